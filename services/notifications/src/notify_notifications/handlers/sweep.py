"""The safety net for notifications a provider never answered for (behaviour.md §9.6).

Texts and emails still ``sending`` or ``pending`` a while after they were created (3 days by default) become
``temporary-failure``. Each pass is one ``UPDATE … RETURNING`` over a bounded batch, so replicas running it at the
same time never both change a row, and each change is announced through the outbox like any status change.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from notify_contracts import NotificationStatusChangedV1, new_envelope
from notify_platform import outbox
from notify_platform.logging import get_logger
from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from ..adapters.tables import notifications
from ..adapters.tables import outbox as outbox_table

PRODUCER = "notifications"
STUCK = ("sending", "pending")
SWEEP_BATCH = 1000
log = get_logger(__name__)


def time_out_stuck(
    conn: Connection, *, timeout: timedelta, now: datetime | None = None, limit: int = SWEEP_BATCH
) -> int:
    """Move up to ``limit`` stuck texts and emails to ``temporary-failure``. Returns how many moved."""
    now = now or datetime.now(UTC)
    n = notifications
    candidates = (
        select(n.c.id, n.c.status)
        .where(
            n.c.status.in_(STUCK),
            n.c.notification_type.in_(("sms", "email")),
            n.c.created_at < now - timeout,
        )
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    previous = {row.id: row.status for row in conn.execute(candidates)}
    if not previous:
        return 0
    rows = conn.execute(
        update(n)
        .where(n.c.id.in_(list(previous)), n.c.status.in_(STUCK))
        .values(status="temporary-failure", updated_at=now)
        .returning(n.c.id, n.c.service_id, n.c.notification_type, n.c.key_type, n.c.sent_at, n.c.job_id)
    ).all()
    correlation_id = f"sweep-{uuid.uuid4()}"
    outbox.write(
        conn,
        outbox_table,
        [
            new_envelope(
                NotificationStatusChangedV1(
                    notification_id=row.id,
                    service_id=row.service_id,
                    notification_type=row.notification_type,
                    key_type=row.key_type,
                    previous_status=previous[row.id],
                    status="temporary-failure",
                    sent_at=row.sent_at,
                    completed_at=now,
                    job_id=row.job_id,
                ),
                producer=PRODUCER,
                correlation_id=correlation_id,
            )
            for row in rows
        ],
    )
    log.info("notifications.timed_out", count=len(rows), correlation_id=correlation_id)
    return len(rows)
