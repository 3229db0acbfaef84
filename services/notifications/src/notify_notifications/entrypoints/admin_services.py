"""Admin routes for services (admin-api.md §4): create, get, update."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from notify_contracts import ServiceChangedV1, new_envelope
from notify_platform import outbox
from notify_platform.logging import current_correlation_id
from pydantic import BaseModel
from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from ..adapters.tables import outbox as outbox_table
from ..adapters.tables import service_users, services, sms_senders, users
from ..domain.formatting import (
    ALL_USER_PERMISSIONS,
    DEFAULT_SERVICE_PERMISSIONS,
    SERVICE_PERMISSIONS,
    service_json,
)
from .deps import Ctx
from .errors import AdminError, not_found

router = APIRouter()

UPDATABLE = {
    "active",
    "contact_link",
    "email_message_limit",
    "sms_message_limit",
    "letter_message_limit",
    "international_sms_message_limit",
    "name",
    "organisation_type",
    "permissions",
    "prefix_sms",
    "rate_limit",
    "restricted",
}


class CreateService(BaseModel):
    name: str
    user_id: uuid.UUID
    created_by: uuid.UUID
    email_message_limit: int
    sms_message_limit: int
    letter_message_limit: int
    restricted: bool
    international_sms_message_limit: int = 100
    organisation_type: str | None = None
    active: bool = True
    prefix_sms: bool = True
    rate_limit: int = 3000


def email_local_part(name: str) -> str:
    return re.sub(r"[^a-z0-9.\-]", "", re.sub(r"\s+", ".", name.strip().lower())) or "service"


def announce(conn: Connection, service_id: uuid.UUID, reason: str) -> None:
    outbox.write(
        conn,
        outbox_table,
        [
            new_envelope(
                ServiceChangedV1(service_id=service_id, reason=reason),
                producer="notifications",
                correlation_id=current_correlation_id() or str(uuid.uuid4()),
            )
        ],
    )


def load_service(conn: Connection, service_id: uuid.UUID) -> Any:
    row = conn.execute(select(services).where(services.c.id == service_id)).first()
    if row is None:
        raise not_found()
    return row


def _duplicate_name(name: str) -> AdminError:
    return AdminError(400, {"name": [f"Duplicate service name '{name}'"]})


@router.post("/service", status_code=201)
async def create_service(body: CreateService, ctx: Ctx) -> dict[str, Any]:
    service_id = uuid.uuid4()

    def create(conn: Connection) -> dict[str, Any]:
        if conn.execute(select(users.c.id).where(users.c.id == body.user_id)).first() is None:
            raise not_found()
        local_part = email_local_part(body.name)
        clash = conn.execute(
            select(services.c.id).where(
                (func.lower(services.c.name) == body.name.strip().lower())
                | (services.c.email_sender_local_part == local_part)
            )
        ).first()
        if clash is not None:
            raise _duplicate_name(body.name)
        conn.execute(
            services.insert().values(
                id=service_id,
                name=body.name.strip(),
                active=body.active,
                restricted=body.restricted,
                email_message_limit=body.email_message_limit,
                sms_message_limit=body.sms_message_limit,
                letter_message_limit=body.letter_message_limit,
                international_sms_message_limit=body.international_sms_message_limit,
                rate_limit=body.rate_limit,
                prefix_sms=body.prefix_sms,
                organisation_type=body.organisation_type,
                email_sender_local_part=local_part,
                permissions=list(DEFAULT_SERVICE_PERMISSIONS),
                created_by_id=body.created_by,
            )
        )
        conn.execute(
            service_users.insert().values(
                service_id=service_id, user_id=body.user_id, permissions=list(ALL_USER_PERMISSIONS)
            )
        )
        conn.execute(
            sms_senders.insert().values(
                id=uuid.uuid4(),
                service_id=service_id,
                sms_sender=ctx.settings.default_sms_sender,
                is_default=True,
            )
        )
        return service_json(load_service(conn, service_id))

    try:
        return {"data": await ctx.db.transaction(create)}
    except IntegrityError as exc:
        raise _duplicate_name(body.name) from exc


@router.get("/service/{service_id}")
async def get_service(service_id: uuid.UUID, ctx: Ctx) -> dict[str, Any]:
    return {"data": await ctx.db.transaction(lambda conn: service_json(load_service(conn, service_id)))}


@router.post("/service/{service_id}")
async def update_service(service_id: uuid.UUID, body: dict[str, Any], ctx: Ctx) -> dict[str, Any]:
    values = {k: v for k, v in body.items() if k in UPDATABLE}
    if "permissions" in values:
        perms = values["permissions"]
        invalid = [p for p in perms if p not in SERVICE_PERMISSIONS]
        if invalid:
            raise AdminError(400, {"permissions": [f"Invalid Service Permission: '{invalid[0]}'"]})
        if len(set(perms)) != len(perms):
            dupes = sorted({p for p in perms if perms.count(p) > 1})
            raise AdminError(400, {"permissions": [f"Duplicate Service Permission: {dupes}"]})

    def change(conn: Connection) -> dict[str, Any]:
        current = load_service(conn, service_id)
        if values:
            conn.execute(
                update(services)
                .where(services.c.id == service_id)
                .values(**values, updated_at=datetime.now(UTC), version=current.version + 1)
            )
            announce(conn, service_id, "updated")
        return service_json(load_service(conn, service_id))

    try:
        result = await ctx.db.transaction(change)
    except IntegrityError as exc:
        raise _duplicate_name(str(values.get("name"))) from exc
    ctx.published()
    return {"data": result}
