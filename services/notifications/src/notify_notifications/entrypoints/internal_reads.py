"""Internal list reads for the gateway's public v2 reads (public-api.md §6.2, §6.5, §6.7).

Every list is keyset-paginated newest first on ``(created_at, id)`` and limited to the retention window. The
query functions take a connection so they can be tested against a real database without HTTP.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Query
from sqlalchemy import Select, and_, or_, select
from sqlalchemy.engine import Connection

from ..adapters.tables import inbound_sms, notifications, templates, users
from ..domain.formatting import ts
from .deps import Ctx
from .internal import notification_dict, sender_names, template_dict

router = APIRouter(prefix="/internal")

# Default data retention (behaviour.md §13); per-service retention is not configurable yet.
RETENTION = timedelta(days=7)
PAGE_SIZE = 250
MAX_PAGE_SIZE = 1000


def _older_than(query: Select[Any], table: Any, anchor: Any) -> Select[Any]:
    """Rows after ``anchor`` in (created_at desc, id desc) order. The ``created_at <=`` term is the one the
    (…, created_at) index serves; the id tiebreak keeps rows created in the same microsecond from being lost
    between pages."""
    return query.where(
        table.c.created_at <= anchor.created_at,
        or_(
            table.c.created_at < anchor.created_at,
            and_(table.c.created_at == anchor.created_at, table.c.id < anchor.id),
        ),
    )


def list_notifications(
    conn: Connection,
    service_id: uuid.UUID,
    key_type: str,
    *,
    template_types: Sequence[str] = (),
    statuses: Sequence[str] = (),
    reference: str | None = None,
    older_than: uuid.UUID | None = None,
    include_jobs: bool = False,
    limit: int = PAGE_SIZE,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """One page of the service's notifications sent with ``key_type``, newest first.

    ``statuses`` are internal statuses (the caller expands public filters). An ``older_than`` id that is
    unknown, another service's or past retention gives an empty page.
    """
    cutoff = (now or datetime.now(UTC)) - RETENTION
    n = notifications
    query = select(n).where(n.c.service_id == service_id, n.c.key_type == key_type, n.c.created_at >= cutoff)
    if template_types:
        query = query.where(n.c.notification_type.in_(list(template_types)))
    if statuses:
        query = query.where(n.c.status.in_(list(statuses)))
    if reference is not None:
        query = query.where(n.c.client_reference == reference)
    if not include_jobs:
        query = query.where(n.c.job_id.is_(None))
    if older_than is not None:
        anchor = conn.execute(
            select(n.c.id, n.c.created_at).where(
                n.c.id == older_than, n.c.service_id == service_id, n.c.created_at >= cutoff
            )
        ).first()
        if anchor is None:
            return []
        query = _older_than(query, n, anchor)
    rows = conn.execute(query.order_by(n.c.created_at.desc(), n.c.id.desc()).limit(limit)).all()
    names = sender_names(conn, rows)
    return [notification_dict(row, names.get(row.created_by_id)) for row in rows]


def list_templates(
    conn: Connection, service_id: uuid.UUID, template_type: str | None
) -> list[dict[str, Any]]:
    """Latest versions of the service's templates, without archived and hidden ones, by name then type."""
    t = templates
    query = (
        select(t, users.c.email_address.label("created_by_email"))
        .outerjoin(users, users.c.id == t.c.created_by_id)
        .where(t.c.service_id == service_id, t.c.archived.is_(False), t.c.hidden.is_(False))
    )
    if template_type:
        query = query.where(t.c.template_type == template_type)
    rows = conn.execute(query.order_by(t.c.name, t.c.template_type, t.c.id)).all()
    return [template_dict(row, row.created_by_email) for row in rows]


def inbound_sms_dict(row: Any) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "service_id": str(row.service_id),
        "notify_number": row.notify_number,
        "user_number": row.user_number,
        "content": row.content,
        "created_at": ts(row.created_at),
    }


def list_inbound_sms(
    conn: Connection,
    service_id: uuid.UUID,
    *,
    older_than: uuid.UUID | None = None,
    limit: int = PAGE_SIZE,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """One page of the service's received text messages, newest first."""
    cutoff = (now or datetime.now(UTC)) - RETENTION
    i = inbound_sms
    query = select(i).where(i.c.service_id == service_id, i.c.created_at >= cutoff)
    if older_than is not None:
        anchor = conn.execute(
            select(i.c.id, i.c.created_at).where(
                i.c.id == older_than, i.c.service_id == service_id, i.c.created_at >= cutoff
            )
        ).first()
        if anchor is None:
            return []
        query = _older_than(query, i, anchor)
    rows = conn.execute(query.order_by(i.c.created_at.desc(), i.c.id.desc()).limit(limit)).all()
    return [inbound_sms_dict(row) for row in rows]


@router.get("/services/{service_id}/notifications")
async def notifications_for_service(
    service_id: uuid.UUID,
    ctx: Ctx,
    key_type: str,
    template_type: list[str] = Query(default=[]),  # noqa: B008
    status: list[str] = Query(default=[]),  # noqa: B008
    reference: str | None = None,
    older_than: uuid.UUID | None = None,
    include_jobs: bool = False,
    limit: int = Query(default=PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE),
) -> dict[str, Any]:
    page = await ctx.db.transaction(
        lambda conn: list_notifications(
            conn,
            service_id,
            key_type,
            template_types=template_type,
            statuses=status,
            reference=reference,
            older_than=older_than,
            include_jobs=include_jobs,
            limit=limit,
        )
    )
    return {"notifications": page}


@router.get("/services/{service_id}/templates")
async def templates_for_service(service_id: uuid.UUID, ctx: Ctx, type: str | None = None) -> dict[str, Any]:  # noqa: A002
    return {"templates": await ctx.db.transaction(lambda conn: list_templates(conn, service_id, type))}


@router.get("/services/{service_id}/inbound-sms")
async def inbound_sms_for_service(
    service_id: uuid.UUID,
    ctx: Ctx,
    older_than: uuid.UUID | None = None,
    limit: int = Query(default=PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE),
) -> dict[str, Any]:
    page = await ctx.db.transaction(
        lambda conn: list_inbound_sms(conn, service_id, older_than=older_than, limit=limit)
    )
    return {"received_text_messages": page}
