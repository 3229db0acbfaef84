"""Admin routes for API keys (admin-api.md §7, seed 000's ApiKeyApiClient): list, read one, create, revoke."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from notify_contracts import ApiKeyChangedV1, new_envelope
from notify_platform import outbox
from notify_platform.logging import current_correlation_id, get_logger
from pydantic import BaseModel, Field
from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from ..adapters.tables import api_keys, users
from ..adapters.tables import outbox as outbox_table
from ..domain.formatting import api_key_json
from .admin_services import load_service
from .deps import Ctx
from .errors import AdminError, not_found

router = APIRouter()
log = get_logger(__name__)
REVOKED_KEYS_VISIBLE_FOR = timedelta(days=7)


class CreateApiKey(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=255)]
    key_type: Literal["normal", "team", "test"]
    created_by: uuid.UUID


class RevokeApiKey(BaseModel):
    created_by: uuid.UUID | None = None


def publish(conn: Connection, *events: Any) -> None:
    correlation_id = current_correlation_id() or str(uuid.uuid4())
    outbox.write(
        conn,
        outbox_table,
        [new_envelope(e, producer="notifications", correlation_id=correlation_id) for e in events],
    )


def check_user(conn: Connection, user_id: uuid.UUID, field: str = "created_by") -> None:
    """A user id in a body must name a user (else 400 on that field, never a foreign-key 500)."""
    if conn.execute(select(users.c.id).where(users.c.id == user_id)).first() is None:
        raise AdminError(400, {field: [f"User not found: {user_id}"]})


@router.post("/service/{service_id}/api-key", status_code=201)
async def create_api_key(service_id: uuid.UUID, body: CreateApiKey, ctx: Ctx) -> dict[str, Any]:
    """The secret is in this answer only, and stored encrypted. ``data`` is the secret (what the admin app reads);
    ``api_key`` is the key object with it (the seed's "key data including the secret")."""
    secret = str(uuid.uuid4())
    key_id = uuid.uuid4()
    name = body.name.strip()

    def create(conn: Connection) -> dict[str, Any]:
        load_service(conn, service_id)
        check_user(conn, body.created_by)
        clash = conn.execute(
            select(api_keys.c.id).where(
                api_keys.c.service_id == service_id, api_keys.c.name == name, api_keys.c.expiry_date.is_(None)
            )
        ).first()
        if clash is not None:
            raise AdminError(400, {"name": [f"Duplicate key name '{name}'"]})
        row = conn.execute(
            api_keys.insert()
            .values(
                id=key_id,
                service_id=service_id,
                name=name,
                secret_encrypted=ctx.box.encrypt(secret),
                key_type=body.key_type,
                created_by_id=body.created_by,
            )
            .returning(api_keys)
        ).one()
        publish(conn, ApiKeyChangedV1(service_id=service_id, api_key_id=key_id, revoked=False))
        return api_key_json(row)

    key = await ctx.db.transaction(create)
    ctx.published()
    log.info("api_key.created", service_id=str(service_id), api_key_id=str(key_id), key_type=body.key_type)
    return {"data": secret, "api_key": {**key, "secret": secret, "key": f"{name}-{service_id}-{secret}"}}


@router.get("/service/{service_id}/api-keys")
async def list_api_keys(service_id: uuid.UUID, ctx: Ctx) -> dict[str, Any]:
    """Unrevoked keys and those revoked in the last 7 days; never a secret."""
    cutoff = datetime.now(UTC) - REVOKED_KEYS_VISIBLE_FOR

    def fetch(conn: Connection) -> list[dict[str, Any]]:
        load_service(conn, service_id)
        rows = conn.execute(
            select(api_keys)
            .where(api_keys.c.service_id == service_id)
            .where(api_keys.c.expiry_date.is_(None) | (api_keys.c.expiry_date > cutoff))
            .order_by(api_keys.c.created_at, api_keys.c.id)
        )
        return [api_key_json(k) for k in rows]

    return {"apiKeys": await ctx.db.transaction(fetch)}


@router.get("/service/{service_id}/api-keys/{key_id}")
async def get_api_key(service_id: uuid.UUID, key_id: uuid.UUID, ctx: Ctx) -> dict[str, Any]:
    def fetch(conn: Connection) -> list[dict[str, Any]]:
        row = conn.execute(
            select(api_keys).where(
                api_keys.c.id == key_id, api_keys.c.service_id == service_id, api_keys.c.expiry_date.is_(None)
            )
        ).first()
        if row is None:
            raise not_found(f"API key not found for id: {service_id}")
        return [api_key_json(row)]

    return {"apiKeys": await ctx.db.transaction(fetch)}


@router.post("/service/{service_id}/api-key/revoke/{key_id}", status_code=202)
async def revoke_api_key(
    service_id: uuid.UUID, key_id: uuid.UUID, ctx: Ctx, body: RevokeApiKey | None = None
) -> JSONResponse:
    """Effective at the gateway at once (the ``api_key.changed`` event drops its cache). Revoking twice keeps the
    first revocation time."""

    def revoke(conn: Connection) -> None:
        key = conn.execute(
            select(api_keys.c.expiry_date)
            .where(api_keys.c.id == key_id, api_keys.c.service_id == service_id)
            .with_for_update()
        ).first()
        if key is None:
            raise not_found()
        if body is not None and body.created_by is not None:
            check_user(conn, body.created_by)
        if key.expiry_date is not None:
            return
        now = datetime.now(UTC)
        conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(expiry_date=now, updated_at=now))
        publish(conn, ApiKeyChangedV1(service_id=service_id, api_key_id=key_id, revoked=True))

    await ctx.db.transaction(revoke)
    ctx.published()
    log.info("api_key.revoked", service_id=str(service_id), api_key_id=str(key_id))
    return JSONResponse(None, status_code=202)
