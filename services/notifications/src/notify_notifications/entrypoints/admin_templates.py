"""Admin routes for templates (admin-api.md §6): create, list, get, update (each change a new version), versions,
preview. Archiving is an update with ``"archived": true``."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from notify_content.keys import insensitive
from notify_content.placeholders import fill, missing_names, placeholder_names
from notify_contracts import TemplateChangedV1
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection

from ..adapters.tables import (
    letter_contacts,
    template_folder_map,
    template_versions,
    templates,
    users,
    version_row,
)
from ..domain.formatting import template_json
from .admin_api_keys import check_user, publish
from .admin_services import load_service
from .admin_template_folders import check_folder, folder_of
from .deps import Ctx
from .errors import AdminError, not_found
from .internal import precompiled_template

router = APIRouter()
SMS_CHARACTER_LIMIT = 918
CHANNEL_WORDS = {"sms": "text message", "email": "email", "letter": "letter"}
Postage = Literal["first", "second", "economy"]


class CreateTemplate(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=255)]
    template_type: Literal["sms", "email", "letter"]
    content: Annotated[str, Field(min_length=1)]
    created_by: uuid.UUID
    service: uuid.UUID | None = None  # the reference requires it; the path already says which service
    subject: str | None = None
    postage: Postage | None = None
    letter_contact_block: str | None = None
    has_unsubscribe_link: bool = False
    parent_folder_id: uuid.UUID | None = None


class UpdateTemplate(BaseModel):
    """Any subset; keys the admin app sends that this platform does not keep are ignored, as Notify does."""

    model_config = ConfigDict(extra="ignore")

    name: Annotated[str, Field(min_length=1, max_length=255)] = None  # type: ignore[assignment]
    content: Annotated[str, Field(min_length=1)] = None  # type: ignore[assignment]
    subject: Annotated[str, Field(min_length=1)] | None = None
    postage: Postage = None  # type: ignore[assignment]
    archived: bool = None  # type: ignore[assignment]
    letter_contact_block: str | None = None
    has_unsubscribe_link: bool = None  # type: ignore[assignment]
    created_by: uuid.UUID | None = None
    reply_to: uuid.UUID | None = None
    redact_personalisation: bool = None  # type: ignore[assignment]


def check_channel_fields(template_type: str, fields: dict[str, Any]) -> None:
    """Subject only (and always) for email and letters; postage only for letters; the SMS length limit."""
    if template_type == "sms" and fields.get("subject") is not None:
        raise AdminError(400, {"subject": ["Text message templates have no subject"]})
    if template_type != "sms" and "subject" in fields and not (fields["subject"] or "").strip():
        raise AdminError(400, {"subject": ["Missing data for required field."]})
    if template_type != "letter" and fields.get("postage") is not None:
        raise AdminError(400, {"postage": ["Only letter templates have postage"]})
    if template_type == "sms" and len(fields.get("content") or "") > SMS_CHARACTER_LIMIT:
        raise AdminError(
            400,
            {"content": [f"Content has a character count greater than the limit of {SMS_CHARACTER_LIMIT}"]},
        )


def _load(conn: Connection, service_id: uuid.UUID, template_id: uuid.UUID, *, lock: bool = False) -> Any:
    query = select(templates).where(templates.c.id == template_id, templates.c.service_id == service_id)
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None or row.hidden:
        raise not_found()
    return row


def _json(conn: Connection, row: Any) -> dict[str, Any]:
    return template_json(row, folder_of(conn, [row.id]).get(row.id))


def _version_json(conn: Connection, row: Any) -> dict[str, Any]:
    """A history object: the template's fields, ``created_by`` as the user (admin-api.md §6.1)."""
    author = conn.execute(
        select(users.c.id, users.c.name, users.c.email_address).where(users.c.id == row.created_by_id)
    ).first()
    result = template_json(row)
    result["created_by"] = (
        {"id": str(author.id), "name": author.name, "email_address": author.email_address} if author else None
    )
    return result


@router.post("/service/{service_id}/template", status_code=201)
async def create_template(service_id: uuid.UUID, body: CreateTemplate, ctx: Ctx) -> dict[str, Any]:
    if body.service is not None and body.service != service_id:
        raise AdminError(400, {"service": ["Does not match the service in the path"]})
    if body.template_type != "sms" and body.subject is None:
        raise AdminError(400, {"subject": ["Missing data for required field."]})
    check_channel_fields(body.template_type, body.model_dump())
    template_id = uuid.uuid4()

    def create(conn: Connection) -> dict[str, Any]:
        service = load_service(conn, service_id)
        if body.template_type not in service.permissions:
            word = CHANNEL_WORDS[body.template_type]
            raise AdminError(403, {"template_type": [f"Creating {word} templates is not allowed"]})
        check_user(conn, body.created_by)
        if body.parent_folder_id is not None:
            check_folder(conn, service_id, body.parent_folder_id, "parent_folder_id not found")
        letter = body.template_type == "letter"
        values = {
            "id": template_id,
            "service_id": service_id,
            "name": body.name,
            "template_type": body.template_type,
            "content": body.content,
            "subject": body.subject if body.template_type != "sms" else None,
            "postage": (body.postage or "second") if letter else None,
            "archived": False,
            "hidden": False,
            "letter_contact_block": body.letter_contact_block if letter else None,
            "has_unsubscribe_link": body.has_unsubscribe_link,
            "created_by_id": body.created_by,
            "created_at": datetime.now(UTC),
            "version": 1,
        }
        conn.execute(templates.insert().values(**values))
        conn.execute(template_versions.insert().values(**values))
        if body.parent_folder_id is not None:
            conn.execute(
                template_folder_map.insert().values(template_id=template_id, folder_id=body.parent_folder_id)
            )
        publish(conn, TemplateChangedV1(service_id=service_id, template_id=template_id, version=1))
        return _json(conn, _load(conn, service_id, template_id))

    result = await ctx.db.transaction(create)
    ctx.published()
    return {"data": result}


@router.get("/service/{service_id}/template")
async def list_templates(service_id: uuid.UUID, ctx: Ctx) -> dict[str, Any]:
    """Templates not archived or hidden, by name (full objects: the reference's keys are among them)."""

    def fetch(conn: Connection) -> list[dict[str, Any]]:
        load_service(conn, service_id)
        rows = conn.execute(
            select(templates)
            .where(
                templates.c.service_id == service_id,
                templates.c.archived.is_(False),
                templates.c.hidden.is_(False),
            )
            .order_by(templates.c.name, templates.c.id)
        ).all()
        folders = folder_of(conn, [r.id for r in rows])
        return [template_json(r, folders.get(r.id)) for r in rows]

    return {"data": await ctx.db.transaction(fetch)}


@router.get("/service/{service_id}/template/precompiled")
async def get_precompiled_template(service_id: uuid.UUID, ctx: Ctx) -> dict[str, Any]:
    """The service's hidden "Pre-compiled PDF" letter template, made on first use; bare, as the reference."""

    def fetch(conn: Connection) -> dict[str, Any]:
        made = precompiled_template(conn, service_id)
        if made is None:
            raise not_found()
        row = conn.execute(select(templates).where(templates.c.id == uuid.UUID(made["id"]))).one()
        return {**template_json(row), "is_precompiled_letter": True}

    return await ctx.db.transaction(fetch)


@router.get("/service/{service_id}/template/{template_id}")
async def get_template(service_id: uuid.UUID, template_id: uuid.UUID, ctx: Ctx) -> dict[str, Any]:
    return {"data": await ctx.db.transaction(lambda conn: _json(conn, _load(conn, service_id, template_id)))}


@router.get("/service/{service_id}/template/{template_id}/versions")
async def template_versions_list(service_id: uuid.UUID, template_id: uuid.UUID, ctx: Ctx) -> dict[str, Any]:
    def fetch(conn: Connection) -> list[dict[str, Any]]:
        _load(conn, service_id, template_id)
        rows = conn.execute(
            select(template_versions)
            .where(template_versions.c.id == template_id)
            .order_by(template_versions.c.version.desc())
        )
        return [_version_json(conn, r) for r in rows]

    return {"data": await ctx.db.transaction(fetch)}


@router.get("/service/{service_id}/template/{template_id}/version/{version}")
async def template_version(
    service_id: uuid.UUID, template_id: uuid.UUID, version: int, ctx: Ctx
) -> dict[str, Any]:
    def fetch(conn: Connection) -> dict[str, Any]:
        _load(conn, service_id, template_id)
        row = conn.execute(
            select(template_versions).where(
                template_versions.c.id == template_id, template_versions.c.version == version
            )
        ).first()
        if row is None:
            raise not_found()
        return _version_json(conn, row)

    return {"data": await ctx.db.transaction(fetch)}


@router.get("/service/{service_id}/template/{template_id}/preview")
async def preview_template(
    service_id: uuid.UUID, template_id: uuid.UUID, request: Request, ctx: Ctx
) -> dict[str, Any]:
    """Bare template object with ``subject`` and ``content`` filled from the query parameters."""
    template = await ctx.db.transaction(lambda conn: template_json(_load(conn, service_id, template_id)))
    values = insensitive(dict(request.query_params))
    missing = missing_names(placeholder_names(template["subject"], template["content"]), values)
    if missing:
        raise AdminError(400, {"template": [f"Missing personalisation: {', '.join(missing)}"]})
    style = "inline" if template["template_type"] == "sms" else "bullets"
    template["content"] = fill(template["content"], values, list_style=style)
    if template["subject"] is not None:
        template["subject"] = fill(template["subject"], values, list_style="inline")
    return template


@router.post("/service/{service_id}/template/{template_id}", response_model=None)
async def update_template(
    service_id: uuid.UUID, template_id: uuid.UUID, body: UpdateTemplate, ctx: Ctx
) -> dict[str, Any] | JSONResponse:
    """Merge the body over the template; a real change makes version + 1 (old versions stay readable), none keeps
    it. ``"archived": true`` archives it."""
    given = body.model_dump(exclude_unset=True)
    editor = given.pop("created_by", None)
    if "reply_to" in given:
        # Only the letter contact changes: no new version, the other fields of this request are ignored.
        return await _set_reply_to(service_id, template_id, given["reply_to"], ctx)
    if "redact_personalisation" in given:
        return await _redact(service_id, template_id, given["redact_personalisation"], editor, ctx)

    def change(conn: Connection) -> dict[str, Any]:
        current = _load(conn, service_id, template_id, lock=True)
        check_channel_fields(current.template_type, given)
        if editor is not None:
            check_user(conn, editor)
        updates = {k: v for k, v in given.items() if v != getattr(current, k)}
        if not updates:
            return _json(conn, current)
        row = {**current._mapping, **updates, "version": current.version + 1, "updated_at": datetime.now(UTC)}
        if editor is not None:
            row["created_by_id"] = editor
        conn.execute(update(templates).where(templates.c.id == template_id).values(**row))
        conn.execute(template_versions.insert().values(**version_row(row)))
        if updates.get("archived") is True:
            # An archived template leaves its folder, so the folder can be emptied and deleted.
            conn.execute(delete(template_folder_map).where(template_folder_map.c.template_id == template_id))
        publish(
            conn, TemplateChangedV1(service_id=service_id, template_id=template_id, version=row["version"])
        )
        return _json(conn, _load(conn, service_id, template_id))

    result = await ctx.db.transaction(change)
    ctx.published()
    return {"data": result}


def set_contact_block(
    conn: Connection, template: Any, contact_id: uuid.UUID | None, block: str | None
) -> None:
    """Point a letter template at a contact block: on the template and its current version (what is printed)."""
    conn.execute(
        update(templates)
        .where(templates.c.id == template.id)
        .values(reply_to=contact_id, letter_contact_block=block)
    )
    conn.execute(
        update(template_versions)
        .where(template_versions.c.id == template.id, template_versions.c.version == template.version)
        .values(letter_contact_block=block)
    )


async def _set_reply_to(
    service_id: uuid.UUID, template_id: uuid.UUID, contact_id: uuid.UUID | None, ctx: Ctx
) -> dict[str, Any]:
    def change(conn: Connection) -> dict[str, Any]:
        current = _load(conn, service_id, template_id, lock=True)
        if current.template_type != "letter":
            raise AdminError(400, {"reply_to": ["Only letter templates have a contact block"]})
        block = None
        if contact_id is not None:
            contact = conn.execute(
                select(letter_contacts.c.contact_block).where(
                    letter_contacts.c.id == contact_id,
                    letter_contacts.c.service_id == service_id,
                    letter_contacts.c.archived.is_(False),
                )
            ).first()
            if contact is None:
                raise AdminError(400, {"reply_to": [f"Letter contact block not found: {contact_id}"]})
            block = contact.contact_block
        set_contact_block(conn, current, contact_id, block)
        publish(
            conn, TemplateChangedV1(service_id=service_id, template_id=template_id, version=current.version)
        )
        return _json(conn, _load(conn, service_id, template_id))

    result = await ctx.db.transaction(change)
    ctx.published()
    return {"data": result}


async def _redact(
    service_id: uuid.UUID, template_id: uuid.UUID, redact: bool, editor: uuid.UUID | None, ctx: Ctx
) -> JSONResponse:
    """Hide the template's personalisation in admin views from now on (answers 200 ``null``, as the reference)."""
    if editor is None:
        raise AdminError(400, {"created_by": ["Field is required"]})
    if redact is not True:
        raise AdminError(400, {"redact_personalisation": ["Redacting personalisation cannot be undone"]})

    def change(conn: Connection) -> None:
        _load(conn, service_id, template_id, lock=True)
        check_user(conn, editor)
        conn.execute(
            update(templates).where(templates.c.id == template_id).values(redact_personalisation=True)
        )

    await ctx.db.transaction(change)
    return JSONResponse(None, status_code=200)
