"""Admin routes for a service's received texts (admin-api.md §12.5): the inbox (newest first, or the latest text of
each sender, paged), one text, the dashboard summary, when the number was last used, and switching inbound texts
off for the service.

Texts are read within the 7-day retention the public API uses. Senders are looked up normalised (the admin sends
the number in a POST body, so it stays out of URLs and logs).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Body, Query
from fastapi.responses import JSONResponse
from sqlalchemy import and_, func, select, update
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.engine import Connection

from ..adapters.tables import inbound_numbers, inbound_sms, services, sms_senders
from ..domain.formatting import ts
from ..handlers.inbound import INBOUND_SMS_PERMISSION, sender_number
from .admin_services import announce, load_service, record_version
from .deps import Ctx
from .errors import AdminError, not_found
from .internal_reads import RETENTION, inbound_sms_dict

router = APIRouter()
BASE = "/service/{service_id}/inbound-sms"
PAGE_SIZE = 50  # the admin API's page size
SUMMARY_DAYS = RETENTION  # the dashboard always counts the last 7 days


def _cutoff(now: datetime | None = None) -> datetime:
    return (now or datetime.now(UTC)) - RETENTION


def _naive_iso(value: datetime) -> str:
    """``created_at`` as the reference's summary gives it: UTC, ISO 8601, no offset."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat()


@router.post(BASE)
async def inbox(service_id: uuid.UUID, ctx: Ctx, body: Any = Body(default=None)) -> dict[str, Any]:  # noqa: B008
    if body is not None and not isinstance(body, dict):
        raise AdminError(400, {"body": ["Must be a JSON object"]})
    number = (body or {}).get("phone_number")
    if number is not None and not isinstance(number, str):
        raise AdminError(400, {"phone_number": ["Not a valid string."]})
    i = inbound_sms.c

    def fetch(conn: Connection) -> list[dict[str, Any]]:
        query = select(inbound_sms).where(i.service_id == service_id, i.created_at >= _cutoff())
        if number and number.strip():
            query = query.where(i.user_number == sender_number(number))
        rows = conn.execute(query.order_by(i.created_at.desc(), i.id.desc())).all()
        return [inbound_sms_dict(r) for r in rows]

    return {"data": await ctx.db.transaction(fetch)}


@router.get(f"{BASE}/most-recent")
async def most_recent(service_id: uuid.UUID, ctx: Ctx, page: int = Query(default=1, ge=1)) -> dict[str, Any]:
    i = inbound_sms.c

    def fetch(conn: Connection) -> dict[str, Any]:
        latest = (
            select(inbound_sms)
            .where(i.service_id == service_id, i.created_at >= _cutoff())
            .order_by(i.user_number, i.created_at.desc(), i.id.desc())
            .ext(distinct_on(i.user_number))
            .subquery()
        )
        rows = conn.execute(
            select(latest)
            .order_by(latest.c.created_at.desc(), latest.c.id.desc())
            .offset((page - 1) * PAGE_SIZE)
            .limit(PAGE_SIZE + 1)
        ).all()
        return {"data": [inbound_sms_dict(r) for r in rows[:PAGE_SIZE]], "has_next": len(rows) > PAGE_SIZE}

    return await ctx.db.transaction(fetch)  # type: ignore[no-any-return]


@router.get(f"{BASE}/summary")
async def summary(service_id: uuid.UUID, ctx: Ctx) -> dict[str, Any]:
    i = inbound_sms.c

    def fetch(conn: Connection) -> dict[str, Any]:
        since = datetime.now(UTC) - SUMMARY_DAYS
        count = conn.execute(
            select(func.count()).where(i.service_id == service_id, i.created_at >= since)
        ).scalar_one()
        latest = conn.execute(select(func.max(i.created_at)).where(i.service_id == service_id)).scalar_one()
        return {"count": count, "most_recent": _naive_iso(latest) if latest is not None else None}

    return await ctx.db.transaction(fetch)  # type: ignore[no-any-return]


@router.get(f"{BASE}/most-recent-usage")
async def most_recent_usage(service_id: uuid.UUID, ctx: Ctx) -> JSONResponse:
    """When the service's number last received a text, or (none yet) when it was given the number."""

    def fetch(conn: Connection) -> Any:
        number = conn.execute(
            select(inbound_numbers.c.created_at, inbound_numbers.c.updated_at).where(
                inbound_numbers.c.service_id == service_id
            )
        ).first()
        if number is None:
            return None
        latest = conn.execute(
            select(func.max(inbound_sms.c.created_at)).where(inbound_sms.c.service_id == service_id)
        ).scalar_one()
        return latest or number.updated_at or number.created_at

    when = await ctx.db.transaction(fetch)
    if when is None:
        return JSONResponse({"message": "inbound not found"}, status_code=404)  # the reference's shape
    return JSONResponse({"most_recent_date": ts(when)})


def remove(conn: Connection, service_id: uuid.UUID, *, archive: bool, default_sender: str) -> None:
    """The service stops receiving texts: the permission goes, the number's SMS sender goes (another sender, or
    the platform's default one, becoming the default), and the number leaves the service: back to the pool, or
    out of use for good when ``archive``."""
    service = load_service(conn, service_id, lock=True)
    now = datetime.now(UTC)
    if INBOUND_SMS_PERMISSION in service.permissions:
        conn.execute(
            update(services)
            .where(services.c.id == service_id)
            .values(
                permissions=[p for p in service.permissions if p != INBOUND_SMS_PERMISSION],
                updated_at=now,
                version=service.version + 1,
            )
        )
        record_version(conn, service_id)
    s = sms_senders.c
    conn.execute(sms_senders.delete().where(s.service_id == service_id, s.inbound_number_id.is_not(None)))
    live = conn.execute(
        select(s.id, s.is_default)
        .where(s.service_id == service_id, s.archived.is_(False))
        .order_by(s.created_at, s.id)
    ).all()
    if not live:
        conn.execute(
            sms_senders.insert().values(
                id=uuid.uuid4(), service_id=service_id, sms_sender=default_sender, is_default=True
            )
        )
    elif not any(row.is_default for row in live):
        conn.execute(update(sms_senders).where(s.id == live[0].id).values(is_default=True, updated_at=now))
    n = inbound_numbers.c
    conn.execute(
        update(inbound_numbers)
        .where(and_(n.service_id == service_id, n.active.is_(True)))
        .values(service_id=None, active=not archive, updated_at=now)
    )
    announce(conn, service_id, "inbound_sms_removed")


@router.post(f"{BASE}/remove")
async def remove_inbound(service_id: uuid.UUID, ctx: Ctx, body: Any = Body(default=None)) -> dict[str, Any]:  # noqa: B008
    archive = body.get("archive") if isinstance(body, dict) else None
    if not isinstance(archive, bool):
        raise AdminError(
            400,
            {"archive": ["Missing data for required field." if archive is None else "Not a valid boolean."]},
        )
    await ctx.db.transaction(
        lambda conn: remove(conn, service_id, archive=archive, default_sender=ctx.settings.default_sms_sender)
    )
    ctx.published()
    return {}


@router.get(f"{BASE}/{{inbound_sms_id}}")
async def one_text(service_id: uuid.UUID, inbound_sms_id: uuid.UUID, ctx: Ctx) -> dict[str, Any]:
    def fetch(conn: Connection) -> dict[str, Any]:
        row = conn.execute(
            select(inbound_sms).where(
                inbound_sms.c.id == inbound_sms_id, inbound_sms.c.service_id == service_id
            )
        ).first()
        if row is None:
            raise not_found()
        return inbound_sms_dict(row)

    return await ctx.db.transaction(fetch)  # type: ignore[no-any-return]
