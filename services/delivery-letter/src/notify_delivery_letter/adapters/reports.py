"""Status reports (``notification.status_reported.v1``) written to the outbox in the caller's transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from notify_contracts import NotificationStatusReportedV1, new_envelope
from notify_platform import outbox
from sqlalchemy.engine import Connection

from .tables import outbox as outbox_table

PRODUCER = "delivery-letter"


@dataclass
class Reports:
    """Collects reports for one transaction; reports made together get increasing ``reported_at`` (the
    notifications service applies a batch of reports in that order)."""

    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    envelopes: list[Any] = field(default_factory=list)

    def add(
        self,
        notification_id: uuid.UUID,
        status: str,
        *,
        correlation_id: str | None,
        causation_id: str | None = None,
        **fields: Any,
    ) -> None:
        reported_at = self.now + timedelta(microseconds=len(self.envelopes))
        self.envelopes.append(
            new_envelope(
                NotificationStatusReportedV1(
                    notification_id=notification_id, status=status, reported_at=reported_at, **fields
                ),
                producer=PRODUCER,
                correlation_id=correlation_id or str(uuid.uuid4()),
                causation_id=causation_id,
            )
        )

    def write(self, conn: Connection) -> int:
        return outbox.write(conn, outbox_table, self.envelopes)
