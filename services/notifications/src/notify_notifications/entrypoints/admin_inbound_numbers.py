"""Admin routes for the pool of inbound numbers (admin-api.md §12.4): list it, list the free numbers, read a
service's number, give a service a number, switch a service's number off.

Numbers enter the pool with ``notifyctl add-inbound-numbers`` (national form, e.g. ``07700900456``). A service
has at most one. Giving it one also makes the number its default SMS sender: its only SMS sender becomes the
number, or, when it has several, the number is added as a new default. Texts to the number then reach the service
(if it has the ``inbound_sms`` permission) until the number is switched off.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Body, Response
from fastapi.responses import JSONResponse
from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection

from ..adapters.tables import inbound_numbers, services, sms_senders
from ..domain.formatting import ts
from .admin_senders import SMS, sender_json
from .admin_services import announce, load_service
from .deps import Ctx
from .errors import AdminError, not_found, parse_uuid

router = APIRouter()


def number_json(row: Any) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "number": row.number,
        "provider": row.provider,
        "service": {"id": str(row.service_id), "name": row.service_name} if row.service_id else None,
        "active": row.active,
        "created_at": ts(row.created_at),
        "updated_at": ts(row.updated_at),
    }


def _numbers() -> Any:
    return select(inbound_numbers, services.c.name.label("service_name")).outerjoin(
        services, services.c.id == inbound_numbers.c.service_id
    )


def _free(conn: Connection, wanted: uuid.UUID | None) -> Any:
    """A free number (the one wanted, or any), locked for this transaction. None free is a 400 (the reference
    fails with an unhandled error, a 500; here no bad request is answered 500)."""
    n = inbound_numbers.c
    query = select(inbound_numbers).where(n.active.is_(True), n.service_id.is_(None))
    if wanted is not None:
        row = conn.execute(query.where(n.id == wanted).with_for_update()).first()
        if row is None:
            raise AdminError(400, f"Inbound number: {wanted} is not available")
        return row
    row = conn.execute(query.order_by(func.random()).limit(1).with_for_update(skip_locked=True)).first()
    if row is None:
        raise AdminError(400, "No inbound numbers available")
    return row


def assign(conn: Connection, service_id: uuid.UUID, wanted: uuid.UUID | None) -> dict[str, Any]:
    """Give the service a number and make it the default SMS sender; the sender, as the admin API shows it."""
    load_service(conn, service_id, lock=True)
    n = inbound_numbers.c
    if conn.execute(select(n.id).where(n.service_id == service_id)).first() is not None:
        raise AdminError(400, "This service already has an inbound number")
    number = _free(conn, wanted)
    now = datetime.now(UTC)
    conn.execute(
        update(inbound_numbers).where(n.id == number.id).values(service_id=service_id, updated_at=now)
    )
    s = sms_senders.c
    live = conn.execute(
        select(s.id).where(s.service_id == service_id, s.archived.is_(False)).with_for_update()
    ).all()
    if len(live) == 1:
        sender_id = live[0].id
        conn.execute(
            update(sms_senders)
            .where(s.id == sender_id)
            .values(sms_sender=number.number, inbound_number_id=number.id, is_default=True, updated_at=now)
        )
    else:
        sender_id = uuid.uuid4()
        conn.execute(
            update(sms_senders)
            .where(s.service_id == service_id, s.is_default.is_(True))
            .values(is_default=False, updated_at=now)
        )
        conn.execute(
            sms_senders.insert().values(
                id=sender_id,
                service_id=service_id,
                sms_sender=number.number,
                is_default=True,
                inbound_number_id=number.id,
            )
        )
    announce(conn, service_id, "inbound_number_changed")
    return sender_json(SMS, conn.execute(select(sms_senders).where(s.id == sender_id)).one())


@router.get("/inbound-number")
async def list_numbers(ctx: Ctx) -> dict[str, Any]:
    def fetch(conn: Connection) -> list[dict[str, Any]]:
        rows = conn.execute(_numbers().order_by(inbound_numbers.c.number)).all()
        return [number_json(r) for r in rows]

    return {"data": await ctx.db.transaction(fetch)}


@router.get("/inbound-number/available")
async def available_numbers(ctx: Ctx) -> dict[str, Any]:
    n = inbound_numbers.c

    def fetch(conn: Connection) -> list[dict[str, Any]]:
        query = _numbers().where(n.active.is_(True), n.service_id.is_(None)).order_by(n.number)
        return [number_json(r) for r in conn.execute(query).all()]

    return {"data": await ctx.db.transaction(fetch)}


@router.get("/inbound-number/service/{service_id}")
async def service_number(service_id: uuid.UUID, ctx: Ctx) -> dict[str, Any]:
    def fetch(conn: Connection) -> dict[str, Any]:
        row = conn.execute(_numbers().where(inbound_numbers.c.service_id == service_id)).first()
        return number_json(row) if row is not None else {}

    return {"data": await ctx.db.transaction(fetch)}


@router.post("/inbound-number/service/{service_id}", status_code=201)
async def assign_number(
    service_id: uuid.UUID,
    ctx: Ctx,
    body: dict[str, Any] | None = Body(default=None),  # noqa: B008
) -> JSONResponse:
    given = (body or {}).get("inbound_number_id")
    wanted = parse_uuid("inbound_number_id", given) if given is not None else None
    sender = await ctx.db.transaction(lambda conn: assign(conn, service_id, wanted))
    ctx.published()
    return JSONResponse(sender, status_code=201)  # the bare SMS sender, as the reference answers


@router.post("/inbound-number/service/{service_id}/off", status_code=204)
async def switch_off(service_id: uuid.UUID, ctx: Ctx) -> Response:
    def off(conn: Connection) -> None:
        changed = conn.execute(
            update(inbound_numbers)
            .where(inbound_numbers.c.service_id == service_id)
            .values(active=False, updated_at=datetime.now(UTC))
        ).rowcount
        if not changed:
            raise not_found()
        announce(conn, service_id, "inbound_number_changed")

    await ctx.db.transaction(off)
    ctx.published()
    return Response(status_code=204)
