"""Admin routes for API keys (admin-api.md §7) and templates (§6)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from notify_contracts import ApiKeyChangedV1, TemplateChangedV1, new_envelope
from notify_platform import outbox
from notify_platform.logging import current_correlation_id
from pydantic import BaseModel
from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from ..adapters.tables import api_keys, template_versions, templates
from ..adapters.tables import outbox as outbox_table
from ..domain.formatting import api_key_json, template_json
from .admin_services import load_service
from .deps import Ctx
from .errors import AdminError, not_found

router = APIRouter()
REVOKED_KEYS_VISIBLE_FOR = timedelta(days=7)
CHANNEL_PERMISSION = {"sms": "sms", "email": "email", "letter": "letter"}
CHANNEL_WORDS = {"sms": "text message", "email": "email", "letter": "letter"}


class CreateApiKey(BaseModel):
    name: str
    key_type: Literal["normal", "team", "test"]
    created_by: uuid.UUID


class CreateTemplate(BaseModel):
    name: str
    template_type: Literal["sms", "email", "letter"]
    content: str
    service: uuid.UUID
    created_by: uuid.UUID
    subject: str | None = None
    postage: Literal["first", "second", "economy"] | None = None
    letter_contact_block: str | None = None
    has_unsubscribe_link: bool = False


def _publish(conn: Connection, event: Any) -> None:
    outbox.write(
        conn,
        outbox_table,
        [
            new_envelope(
                event, producer="notifications", correlation_id=current_correlation_id() or str(uuid.uuid4())
            )
        ],
    )


@router.post("/service/{service_id}/api-key", status_code=201)
async def create_api_key(service_id: uuid.UUID, body: CreateApiKey, ctx: Ctx) -> dict[str, Any]:
    secret = str(uuid.uuid4())
    key_id = uuid.uuid4()

    def create(conn: Connection) -> None:
        load_service(conn, service_id)
        clash = conn.execute(
            select(api_keys.c.id).where(
                api_keys.c.service_id == service_id,
                api_keys.c.name == body.name,
                api_keys.c.expiry_date.is_(None),
            )
        ).first()
        if clash is not None:
            raise AdminError(400, {"name": [f"Duplicate key name '{body.name}'"]})
        conn.execute(
            api_keys.insert().values(
                id=key_id,
                service_id=service_id,
                name=body.name,
                secret_encrypted=ctx.box.encrypt(secret),
                key_type=body.key_type,
                created_by_id=body.created_by,
            )
        )
        _publish(conn, ApiKeyChangedV1(service_id=service_id, api_key_id=key_id, revoked=False))

    await ctx.db.transaction(create)
    ctx.published()
    return {"data": secret}


@router.get("/service/{service_id}/api-keys")
async def list_api_keys(service_id: uuid.UUID, ctx: Ctx) -> dict[str, Any]:
    cutoff = datetime.now(UTC) - REVOKED_KEYS_VISIBLE_FOR

    def fetch(conn: Connection) -> list[dict[str, Any]]:
        load_service(conn, service_id)
        rows = conn.execute(
            select(api_keys)
            .where(api_keys.c.service_id == service_id)
            .where(api_keys.c.expiry_date.is_(None) | (api_keys.c.expiry_date > cutoff))
            .order_by(api_keys.c.created_at)
        )
        return [api_key_json(k) for k in rows]

    return {"apiKeys": await ctx.db.transaction(fetch)}


@router.post("/service/{service_id}/api-key/revoke/{key_id}", status_code=202)
async def revoke_api_key(service_id: uuid.UUID, key_id: uuid.UUID, ctx: Ctx) -> JSONResponse:
    def revoke(conn: Connection) -> None:
        now = datetime.now(UTC)
        done = conn.execute(
            update(api_keys)
            .where(api_keys.c.id == key_id, api_keys.c.service_id == service_id)
            .values(expiry_date=now, updated_at=now)
            .returning(api_keys.c.id)
        ).first()
        if done is None:
            raise not_found()
        _publish(conn, ApiKeyChangedV1(service_id=service_id, api_key_id=key_id, revoked=True))

    await ctx.db.transaction(revoke)
    ctx.published()
    return JSONResponse(None, status_code=202)


@router.post("/service/{service_id}/template", status_code=201)
async def create_template(service_id: uuid.UUID, body: CreateTemplate, ctx: Ctx) -> dict[str, Any]:
    if body.template_type != "sms" and not (body.subject or "").strip():
        raise AdminError(400, {"subject": ["Missing data for required field."]})
    template_id = uuid.uuid4()

    def create(conn: Connection) -> dict[str, Any]:
        service = load_service(conn, service_id)
        if CHANNEL_PERMISSION[body.template_type] not in service.permissions:
            word = CHANNEL_WORDS[body.template_type]
            raise AdminError(403, {"template_type": [f"Creating {word} templates is not allowed"]})
        if body.template_type == "sms" and len(body.content) > 918:
            raise AdminError(
                400, {"content": ["Content has a character count greater than the limit of 918"]}
            )
        values = {
            "id": template_id,
            "service_id": service_id,
            "name": body.name,
            "template_type": body.template_type,
            "content": body.content,
            "subject": body.subject if body.template_type != "sms" else None,
            "postage": (body.postage or "second") if body.template_type == "letter" else None,
            "archived": False,
            "hidden": False,
            "letter_contact_block": body.letter_contact_block,
            "has_unsubscribe_link": body.has_unsubscribe_link,
            "created_by_id": body.created_by,
            "created_at": datetime.now(UTC),
            "version": 1,
        }
        conn.execute(templates.insert().values(**values))
        conn.execute(template_versions.insert().values(**values))
        _publish(conn, TemplateChangedV1(service_id=service_id, template_id=template_id, version=1))
        return template_json(conn.execute(select(templates).where(templates.c.id == template_id)).one())

    result = await ctx.db.transaction(create)
    ctx.published()
    return {"data": result}


@router.get("/service/{service_id}/template/{template_id}")
async def get_template(service_id: uuid.UUID, template_id: uuid.UUID, ctx: Ctx) -> dict[str, Any]:
    def fetch(conn: Connection) -> dict[str, Any]:
        row = conn.execute(
            select(templates).where(
                templates.c.id == template_id,
                templates.c.service_id == service_id,
                templates.c.hidden.is_(False),
            )
        ).first()
        if row is None:
            raise not_found()
        return template_json(row)

    return {"data": await ctx.db.transaction(fetch)}


TEMPLATE_UPDATABLE = (
    "name",
    "content",
    "subject",
    "postage",
    "archived",
    "letter_contact_block",
    "has_unsubscribe_link",
)


@router.post("/service/{service_id}/template/{template_id}")
async def update_template(
    service_id: uuid.UUID, template_id: uuid.UUID, body: dict[str, Any], ctx: Ctx
) -> dict[str, Any]:
    """Merge the body over the template; a real change makes version + 1 (history kept), none keeps it."""
    created_by = body.get("created_by")
    try:
        editor = uuid.UUID(str(created_by)) if created_by else None
    except ValueError as exc:
        raise AdminError(400, {"created_by": ["Not a valid UUID."]}) from exc

    def change(conn: Connection) -> dict[str, Any]:
        current = conn.execute(
            select(templates).where(templates.c.id == template_id, templates.c.service_id == service_id)
        ).first()
        if current is None or current.hidden:
            raise not_found()
        updates = {k: body[k] for k in TEMPLATE_UPDATABLE if k in body and body[k] != getattr(current, k)}
        if current.template_type == "sms" and len(updates.get("content", current.content)) > 918:
            raise AdminError(
                400, {"content": ["Content has a character count greater than the limit of 918"]}
            )
        if not updates:
            return template_json(current)
        row = {**current._mapping, **updates}
        row.update(version=current.version + 1, updated_at=datetime.now(UTC))
        if editor is not None:
            row["created_by_id"] = editor
        conn.execute(update(templates).where(templates.c.id == template_id).values(**row))
        conn.execute(template_versions.insert().values(**row))
        _publish(
            conn, TemplateChangedV1(service_id=service_id, template_id=template_id, version=row["version"])
        )
        return template_json(conn.execute(select(templates).where(templates.c.id == template_id)).one())

    result = await ctx.db.transaction(change)
    ctx.published()
    return {"data": result}
