"""Admin routes on a service's record (admin-api.md §4.2–4.3, seed 004): statistics, monthly statistics, history,
and archiving."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from notify_contracts import ApiKeyChangedV1, TemplateChangedV1, new_envelope
from notify_platform import outbox
from notify_platform.logging import current_correlation_id, get_logger
from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from ..adapters.statistics_queries import monthly_counts, status_counts
from ..adapters.tables import api_keys, services, services_history, template_versions, templates, version_row
from ..adapters.tables import outbox as outbox_table
from ..domain.formatting import ts
from ..domain.statistics import (
    LONDON,
    financial_year_bounds,
    financial_year_months,
    monthly,
    summarise,
    window_start,
)
from .admin_services import announce, flag, load_service, record_version
from .deps import Ctx
from .errors import AdminError

router = APIRouter()
log = get_logger(__name__)


@router.get("/service/{service_id}/statistics")
async def service_statistics(
    service_id: uuid.UUID,
    ctx: Ctx,
    today_only: str | None = None,
    limit_days: Annotated[int, Query(ge=0, le=3650)] = 7,
) -> dict[str, Any]:
    """Requested, delivered and failed per channel: today, or the last ``limit_days`` days and today (London)."""

    def fetch(conn: Connection) -> dict[str, Any]:
        load_service(conn, service_id)
        today = datetime.now(LONDON).date()
        start = window_start(today, today_only=flag(today_only), limit_days=limit_days)
        return summarise(status_counts(conn, [service_id], start=start).get(service_id, []))

    return {"data": await ctx.db.transaction(fetch)}


@router.get("/service/{service_id}/notifications/monthly")
async def monthly_statistics(service_id: uuid.UUID, ctx: Ctx, year: str | None = None) -> dict[str, Any]:
    """Per month of the financial year starting in April ``year`` (months that have started), per channel."""
    if year is None or not year.strip().isdigit() or not 2000 <= int(year) <= 2100:
        raise AdminError(400, "Year must be a number")
    fy = int(year)

    def fetch(conn: Connection) -> dict[str, Any]:
        load_service(conn, service_id)
        start, end = financial_year_bounds(fy)
        months = financial_year_months(fy, datetime.now(LONDON).date())
        return monthly(monthly_counts(conn, service_id, start=start, end=end), months)

    return {"data": await ctx.db.transaction(fetch)}


@router.get("/service/{service_id}/history")
async def service_history(service_id: uuid.UUID, ctx: Ctx) -> dict[str, Any]:
    """Every version of the service, every API key (with when it was revoked), every template version."""

    def fetch(conn: Connection) -> dict[str, Any]:
        load_service(conn, service_id)
        versions = conn.execute(
            select(services_history)
            .where(services_history.c.id == service_id)
            .order_by(services_history.c.version)
        )
        keys = conn.execute(
            select(api_keys).where(api_keys.c.service_id == service_id).order_by(api_keys.c.created_at)
        )
        template_rows = conn.execute(
            select(template_versions)
            .where(template_versions.c.service_id == service_id, template_versions.c.hidden.is_(False))
            .order_by(template_versions.c.created_at, template_versions.c.id, template_versions.c.version)
        )
        return {
            "service_history": [
                {
                    "id": str(v.id),
                    "name": v.name,
                    "created_at": ts(v.created_at),
                    "updated_at": ts(v.updated_at),
                    "active": v.active,
                    "email_message_limit": v.email_message_limit,
                    "sms_message_limit": v.sms_message_limit,
                    "letter_message_limit": v.letter_message_limit,
                    "restricted": v.restricted,
                    "custom_email_sender_name": None,
                    "email_sender_local_part": v.email_sender_local_part,
                    "created_by_id": str(v.created_by_id),
                    "version": v.version,
                }
                for v in versions
            ],
            "api_key_history": [
                {
                    "id": str(k.id),
                    "name": k.name,
                    "service_id": str(k.service_id),
                    "key_type": k.key_type,
                    "expiry_date": ts(k.expiry_date),
                    "revoked_at": ts(k.expiry_date),
                    "created_at": ts(k.created_at),
                    "updated_at": ts(k.updated_at),
                    "created_by_id": str(k.created_by_id),
                    "version": k.version,
                }
                for k in keys
            ],
            "template_history": [
                {
                    "id": str(t.id),
                    "name": t.name,
                    "template_type": t.template_type,
                    "version": t.version,
                    "archived": t.archived,
                    "created_at": ts(t.created_at),
                    "updated_at": ts(t.updated_at),
                    "created_by_id": str(t.created_by_id),
                }
                for t in template_rows
            ],
        }

    return {"data": await ctx.db.transaction(fetch)}


def archive(conn: Connection, service_id: uuid.UUID, now: datetime) -> None:
    """Irreversible: inactive, renamed (freeing its name and email sender), templates archived, keys revoked."""
    service = load_service(conn, service_id, lock=True)
    if service.archived_at is not None:
        return
    prefix = f"_archived_{now.astimezone(UTC).strftime('%Y-%m-%d-%H:%M:%S')}_"
    conn.execute(
        update(services)
        .where(services.c.id == service_id)
        .values(
            name=(prefix + service.name)[:255],
            email_sender_local_part=(prefix + service.email_sender_local_part)[:255],
            active=False,
            archived_at=now,
            updated_at=now,
            version=service.version + 1,
        )
    )
    record_version(conn, service_id)
    events: list[Any] = []
    live_templates = conn.execute(
        select(templates).where(templates.c.service_id == service_id, templates.c.archived.is_(False))
    ).all()
    for template in live_templates:
        row = {**template._mapping, "archived": True, "version": template.version + 1, "updated_at": now}
        conn.execute(update(templates).where(templates.c.id == template.id).values(**row))
        conn.execute(template_versions.insert().values(**version_row(row)))
        events.append(
            TemplateChangedV1(service_id=service_id, template_id=template.id, version=row["version"])
        )
    revoked = conn.execute(
        update(api_keys)
        .where(api_keys.c.service_id == service_id, api_keys.c.expiry_date.is_(None))
        .values(expiry_date=now, updated_at=now)
        .returning(api_keys.c.id)
    ).all()
    events += [ApiKeyChangedV1(service_id=service_id, api_key_id=k.id, revoked=True) for k in revoked]
    correlation_id = current_correlation_id() or str(uuid.uuid4())
    outbox.write(
        conn,
        outbox_table,
        [new_envelope(e, producer="notifications", correlation_id=correlation_id) for e in events],
    )
    announce(conn, service_id, "archived")
    log.info(
        "service.archived",
        service_id=str(service_id),
        templates=len(live_templates),
        api_keys_revoked=len(revoked),
    )


@router.post("/service/{service_id}/archive", status_code=204)
async def archive_service(service_id: uuid.UUID, ctx: Ctx) -> Response:
    await ctx.db.transaction(lambda conn: archive(conn, service_id, datetime.now(UTC)))
    ctx.published()
    return Response(status_code=204)
