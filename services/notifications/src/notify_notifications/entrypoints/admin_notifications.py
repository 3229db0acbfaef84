"""Admin routes for one notification of a service (admin-api.md §9): read it, cancel a letter."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from notify_contracts import LetterCancelledV1, NotificationStatusChangedV1, new_envelope
from notify_platform import outbox
from notify_platform.logging import current_correlation_id, get_logger
from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from ..adapters.tables import notifications
from ..adapters.tables import outbox as outbox_table
from ..domain.formatting import notification_admin_json
from ..domain.letters import CANCELLABLE, too_late_to_cancel
from .deps import Ctx
from .errors import AdminError

router = APIRouter()
log = get_logger(__name__)


def _load(conn: Connection, service_id: uuid.UUID, notification_id: uuid.UUID, *, lock: bool = False) -> Any:
    query = select(notifications).where(
        notifications.c.id == notification_id, notifications.c.service_id == service_id
    )
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise AdminError(404, "Notification not found")
    return row


@router.get("/service/{service_id}/notifications/{notification_id}")
async def get_notification(service_id: uuid.UUID, notification_id: uuid.UUID, ctx: Ctx) -> dict[str, Any]:
    return await ctx.db.transaction(
        lambda conn: notification_admin_json(_load(conn, service_id, notification_id))
    )


def cancel_letter(conn: Connection, service_id: uuid.UUID, notification_id: uuid.UUID, now: datetime) -> Any:
    """Cancel a letter that has not gone to print: announce the status change, and tell delivery-letter (its own
    event) to leave the letter out of every batch."""
    row = _load(conn, service_id, notification_id, lock=True)
    if row.notification_type != "letter":
        raise AdminError(400, "Notification cannot be cancelled - only letters can be cancelled")
    if row.status == "cancelled":
        raise AdminError(400, "This letter has already been cancelled.")
    too_late = too_late_to_cancel(row.created_at, now)
    if too_late is not None:
        raise AdminError(400, too_late)
    if row.status not in CANCELLABLE:
        raise AdminError(
            400,
            f"We could not cancel this letter. Letter status: {row.status}, "
            f"created_at: {row.created_at.astimezone(UTC).strftime('%Y-%m-%d %H:%M:%S')}",
        )
    cancelled = conn.execute(
        update(notifications)
        .where(notifications.c.id == notification_id)
        .values(status="cancelled", updated_at=now)
        .returning(notifications)
    ).one()
    event = NotificationStatusChangedV1(
        notification_id=notification_id,
        service_id=service_id,
        notification_type="letter",
        key_type=row.key_type,
        previous_status=row.status,
        status="cancelled",
        sent_at=row.sent_at,
        completed_at=now,
        job_id=row.job_id,
    )
    take_out_of_print = LetterCancelledV1(
        notification_id=notification_id, service_id=service_id, cancelled_at=now
    )
    correlation_id = current_correlation_id() or str(uuid.uuid4())
    events = (event, take_out_of_print)
    outbox.write(
        conn,
        outbox_table,
        [new_envelope(e, producer="notifications", correlation_id=correlation_id) for e in events],
    )
    log.info("letter.cancelled", notification_id=str(notification_id), service_id=str(service_id))
    return notification_admin_json(cancelled)


@router.post("/service/{service_id}/notifications/{notification_id}/cancel")
async def cancel(service_id: uuid.UUID, notification_id: uuid.UUID, ctx: Ctx) -> dict[str, Any]:
    result = await ctx.db.transaction(
        lambda conn: cancel_letter(conn, service_id, notification_id, datetime.now(UTC))
    )
    ctx.published()
    return result  # type: ignore[no-any-return]
