"""notification.status_reported → the new status applied (never regressing a final one) and announced.

Reports for one notification are applied in the order they happened; the same report twice changes nothing,
so redelivery is harmless. Each change is announced as notification.status_changed through the outbox.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from notify_content.recipients import single_line
from notify_contracts import Envelope, NotificationStatusChangedV1, NotificationStatusReportedV1, new_envelope
from notify_platform import outbox
from notify_platform.logging import get_logger
from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from ..adapters.tables import notifications
from ..adapters.tables import outbox as outbox_table
from ..domain.statuses import COMPLETED, may_apply

PRODUCER = "notifications"
log = get_logger(__name__)


class UnknownNotification(Exception):
    """A report names a notification this service has not stored (yet): retried, then dead-lettered."""


def apply_reports(conn: Connection, envelopes: Sequence[Envelope[Any]]) -> int:
    """Apply status reports in one transaction. Returns how many notifications changed."""
    reports: list[tuple[Envelope[Any], NotificationStatusReportedV1]] = sorted(
        ((env, env.payload) for env in envelopes), key=lambda item: item[1].reported_at
    )
    ids = {p.notification_id for _, p in reports}
    current = {
        row.id: row
        for row in conn.execute(
            select(
                notifications.c.id,
                notifications.c.status,
                notifications.c.service_id,
                notifications.c.notification_type,
                notifications.c.key_type,
                notifications.c.job_id,
                notifications.c.sent_at,
            )
            .where(notifications.c.id.in_(ids))
            .with_for_update()
        )
    }
    missing = ids - current.keys()
    if missing:
        raise UnknownNotification(f"{len(missing)} notification(s) not stored yet")
    state: dict[Any, dict[str, Any]] = {nid: dict(row._mapping) for nid, row in current.items()}
    changes: dict[Any, dict[str, Any]] = {}
    events = []
    for env, report in reports:
        now = state[report.notification_id]
        if report.sent_at is not None and now["sent_at"] is None:
            now["sent_at"] = report.sent_at
            changes.setdefault(report.notification_id, {})["sent_at"] = report.sent_at
        if report.provider_reference:
            changes.setdefault(report.notification_id, {})["provider_reference"] = report.provider_reference
        if report.provider:
            changes.setdefault(report.notification_id, {})["sent_by"] = report.provider
        if report.billable_units is not None:
            changes.setdefault(report.notification_id, {})["billable_units"] = report.billable_units
        if report.recipient is not None and now["status"] == "pending-virus-check":
            # A precompiled letter passed its checks: the address read from the PDF becomes the recipient.
            changes.setdefault(report.notification_id, {}).update(
                recipient=report.recipient[:320],
                normalised_recipient=single_line(report.recipient.split("\n"))[:320],
            )
        if report.postage is not None and now["status"] == "pending-virus-check":
            changes.setdefault(report.notification_id, {})["postage"] = report.postage
        if not may_apply(now["status"], report.status):
            continue
        previous, now["status"] = now["status"], report.status
        updated_at: datetime = report.reported_at
        changes.setdefault(report.notification_id, {}).update(status=report.status, updated_at=updated_at)
        log.info(
            "notification.status_changed",
            notification_id=str(report.notification_id),
            previous_status=previous,
            status=report.status,
            correlation_id=env.correlation_id,
        )
        events.append(
            new_envelope(
                NotificationStatusChangedV1(
                    notification_id=report.notification_id,
                    service_id=now["service_id"],
                    notification_type=now["notification_type"],
                    key_type=now["key_type"],
                    previous_status=previous,
                    status=report.status,
                    sent_at=now["sent_at"],
                    completed_at=updated_at if report.status in COMPLETED else None,
                    job_id=now["job_id"],
                ),
                producer=PRODUCER,
                correlation_id=env.correlation_id,
                causation_id=str(env.event_id),
            )
        )
    for notification_id, values in changes.items():
        conn.execute(update(notifications).where(notifications.c.id == notification_id).values(**values))
    outbox.write(conn, outbox_table, events)
    return len({e.payload.notification_id for e in events})
