"""``notification.status_reported.v1`` events, written to a service's outbox in the caller's transaction.

Every delivery service reports through this one builder: the send ledger, provider receipts, print batches. Reports
made together get strictly increasing ``reported_at`` (a microsecond apart), because the notifications service
applies the reports of a batch in that order.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from notify_contracts import NotificationStatusReportedV1, new_envelope
from sqlalchemy import Table
from sqlalchemy.engine import Connection

from . import outbox


@dataclass
class StatusReports:
    producer: str
    outbox_table: Table
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
    ) -> StatusReports:
        """Queue one report; ``fields`` are the event's optional fields (provider, sent_at, detail, ...)."""
        reported_at = self.now + timedelta(microseconds=len(self.envelopes))
        self.envelopes.append(
            new_envelope(
                NotificationStatusReportedV1(
                    notification_id=notification_id, status=status, reported_at=reported_at, **fields
                ),
                producer=self.producer,
                correlation_id=correlation_id or str(uuid.uuid4()),
                causation_id=causation_id,
            )
        )
        return self

    def write(self, conn: Connection) -> int:
        return outbox.write(conn, self.outbox_table, self.envelopes)
