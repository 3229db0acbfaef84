"""Each job notification's latest status, from ``notification.status_changed`` events (a job's statistics).

Events of notifications that are not from a job are acknowledged and dropped. An event can arrive twice or late
(redelivery): a row is only replaced by an event that happened at the same time or later, so counts never go back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from notify_contracts import Envelope
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Connection

from ..adapters.tables import job_notifications


def record_statuses(conn: Connection, batch: Sequence[Envelope[Any]]) -> int:
    latest: dict[Any, dict[str, Any]] = {}
    for envelope in batch:
        event = envelope.payload
        if event.job_id is None:
            continue
        row = {
            "notification_id": event.notification_id,
            "job_id": event.job_id,
            "status": event.status,
            "status_at": envelope.occurred_at,
        }
        known = latest.get(event.notification_id)
        if known is None or known["status_at"] <= row["status_at"]:
            latest[event.notification_id] = row
    if not latest:
        return 0
    statement = insert(job_notifications).values(list(latest.values()))
    result = conn.execute(
        statement.on_conflict_do_update(
            index_elements=[job_notifications.c.notification_id],
            set_={"status": statement.excluded.status, "status_at": statement.excluded.status_at},
            where=job_notifications.c.status_at <= statement.excluded.status_at,
        )
    )
    return int(result.rowcount or 0)  # rows written: an event older than the stored status writes none
