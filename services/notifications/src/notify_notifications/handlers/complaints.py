"""email.complaint_received → the complaint stored and the service's complaint callback queued, in one transaction.

A recipient marked an email as spam: the notification keeps its status (a complaint is not a delivery outcome).
The complaint's id comes from delivery-email (derived from the message and the complaint's time), so the same
complaint reported twice is stored once and called back once. A complaint about a notification this service has not
stored yet is refused like a status report would be (``UnknownNotification``): retried, then dead-lettered, never
dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from notify_contracts import EmailComplaintReceivedV1, Envelope
from notify_platform.logging import get_logger
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Connection

from ..adapters import callback_queue
from ..adapters.tables import complaints, notifications
from ..domain import callbacks
from .statuses import UnknownNotification

log = get_logger(__name__)


def store_complaints(conn: Connection, envelopes: Sequence[Envelope[Any]]) -> int:
    """Store each complaint once and queue its callback. Returns how many complaints were new."""
    received: dict[Any, tuple[Envelope[Any], EmailComplaintReceivedV1]] = {}
    for env in envelopes:
        if isinstance(env.payload, EmailComplaintReceivedV1):
            received.setdefault(env.payload.complaint_id, (env, env.payload))
    if not received:
        return 0
    n = notifications.c
    rows = {
        row.id: row
        for row in conn.execute(
            select(n.id, n.service_id, n.client_reference, n.recipient).where(
                n.id.in_({p.notification_id for _, p in received.values()})
            )
        )
    }
    missing = {p.notification_id for _, p in received.values()} - rows.keys()
    if missing:
        raise UnknownNotification(f"{len(missing)} notification(s) not stored yet")
    stored = set(
        conn.execute(
            insert(complaints)
            .values(
                [
                    {
                        "id": p.complaint_id,
                        "notification_id": p.notification_id,
                        "service_id": rows[p.notification_id].service_id,
                        "complaint_date": p.complained_at,
                        "provider_reference": p.provider_reference,
                    }
                    for _, p in received.values()
                ]
            )
            .on_conflict_do_nothing(index_elements=["id"])
            .returning(complaints.c.id)
        ).scalars()
    )
    owed = []
    for complaint_id in stored:
        env, complaint = received[complaint_id]
        log.info(
            "notification.complaint_stored",
            notification_id=str(complaint.notification_id),
            complaint_id=str(complaint_id),
            correlation_id=env.correlation_id,
        )
        owed.append(
            callbacks.complaint(
                rows[complaint.notification_id],
                complaint_id=complaint_id,
                complaint_date=complaint.complained_at,
            )
        )
    callback_queue.enqueue(conn, owed)
    return len(stored)
