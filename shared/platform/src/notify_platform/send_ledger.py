"""The exactly-once send ledger every delivery service keeps (one row per notification, ever).

A batch first *claims* its notifications (committed before any provider call). A notification already ``sent``
or ``failed`` is skipped on redelivery; one left ``claimed`` by a crash is handed to the service's ``deliver`` with
``resumed=True`` (to look it up at the provider, or resend idempotently). The send's record and its status reports
are written in one transaction, through the outbox.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from notify_contracts import Envelope
from sqlalchemy import Column, DateTime, MetaData, String, Table, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import UUID, insert
from sqlalchemy.engine import Connection

from .db import Database
from .status_reports import StatusReports


@dataclass
class Outcome:
    """What one delivery attempt came to. No ``provider_reference`` means it failed for good."""

    envelope: Envelope[Any]
    provider: str | None
    provider_reference: str | None
    sent_at: datetime | None
    statuses: tuple[str, ...]  # reported in this order
    detail: str | None = None


Deliver = Callable[[Envelope[Any], bool], Awaitable[Outcome]]


class SendLedger:
    def __init__(self, db: Database, table: Table, outbox_table: Table, *, producer: str) -> None:
        self.db = db
        self.table = table
        self.outbox_table = outbox_table
        self.producer = producer

    def claim(self, conn: Connection, envelopes: Sequence[Envelope[Any]]) -> dict[Any, str]:
        """Claim every notification of the batch; returns the state each one had *before* this batch."""
        t = self.table
        ids = [e.payload.notification_id for e in envelopes]
        before = {
            row.notification_id: row.state
            for row in conn.execute(
                select(t.c.notification_id, t.c.state).where(t.c.notification_id.in_(ids))
            )
        }
        fresh = [
            {
                "notification_id": e.payload.notification_id,
                "service_id": e.payload.service_id,
                "state": "claimed",
                "correlation_id": e.correlation_id,
            }
            for e in envelopes
            if e.payload.notification_id not in before
        ]
        if fresh:
            # executemany form: compiled once and cached, sent as multi-row INSERTs by the driver.
            conn.execute(insert(t).on_conflict_do_nothing(index_elements=["notification_id"]), fresh)
        return before

    def record(self, conn: Connection, outcomes: Sequence[Outcome]) -> None:
        """Close the outcomes' ledger rows (one batched UPDATE) and queue their status reports."""
        t = self.table
        if not outcomes:
            return
        rows = [
            {
                "b_notification_id": o.envelope.payload.notification_id,
                "b_state": "sent" if o.provider_reference else "failed",
                "b_provider_reference": o.provider_reference,
                "b_sent_at": o.sent_at,
                "b_provider": o.provider,
            }
            for o in outcomes
        ]
        values: dict[str, Any] = {
            "state": bindparam("b_state"),
            "provider_reference": bindparam("b_provider_reference"),
            "sent_at": bindparam("b_sent_at", type_=t.c.sent_at.type),
        }
        if "provider" in t.c:
            values["provider"] = bindparam("b_provider")
        conn.execute(
            update(t).where(t.c.notification_id == bindparam("b_notification_id")).values(values), rows
        )
        reports = StatusReports(self.producer, self.outbox_table)
        for o in outcomes:
            for status in o.statuses:  # reported in this order (research mode reports several at once)
                reports.add(
                    o.envelope.payload.notification_id,
                    status,
                    correlation_id=o.envelope.correlation_id,
                    causation_id=str(o.envelope.event_id),
                    provider=o.provider,
                    provider_reference=o.provider_reference,
                    sent_at=o.sent_at,
                    detail=o.detail,
                )
        reports.write(conn)

    async def handle(self, batch: Sequence[Envelope[Any]], deliver: Deliver) -> int:
        """Claim, deliver what needs delivering (concurrently), record. Re-raises the first failure (after
        recording every success) so the consumer retries; the ledger makes that retry skip what was sent."""
        unique: dict[Any, Envelope[Any]] = {}
        for env in batch:
            unique.setdefault(env.payload.notification_id, env)
        before = await self.db.transaction(lambda conn: self.claim(conn, list(unique.values())))
        todo = [e for nid, e in unique.items() if before.get(nid) in (None, "claimed")]
        if not todo:
            return 0
        results = await asyncio.gather(
            *(deliver(e, before.get(e.payload.notification_id) == "claimed") for e in todo),
            return_exceptions=True,
        )
        outcomes = [r for r in results if isinstance(r, Outcome)]
        if outcomes:
            await self.db.transaction(lambda conn: self.record(conn, outcomes))
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            raise failures[0]
        return len(outcomes)

    async def give_up(self, envelope: Envelope[Any], reason: str) -> None:
        """Every retry failed: ``technical-failure`` (Notify's outcome after its last retry), unless it was sent or
        already failed."""

        def fail(conn: Connection) -> None:
            state = conn.execute(
                select(self.table.c.state).where(
                    self.table.c.notification_id == envelope.payload.notification_id
                )
            ).scalar()
            if state in ("sent", "failed"):
                return
            if state is None:
                self.claim(conn, [envelope])
            self.record(
                conn, [Outcome(envelope, None, None, None, ("technical-failure",), detail=reason[:200])]
            )

        await self.db.transaction(fail)


def ledger_table(metadata: MetaData, name: str, *, with_provider: bool) -> Table:
    """The ledger's table, the same in every delivery service (``provider`` where it chooses between several)."""
    return Table(
        name,
        metadata,
        Column("notification_id", UUID(as_uuid=True), primary_key=True),
        Column("service_id", UUID(as_uuid=True), nullable=False),
        Column("state", String(10), nullable=False),  # "claimed", "sent" or "failed"
        # The send's correlation id, so receipts that arrive later are logged and published under it too.
        Column("correlation_id", String(100), nullable=True),
        *([Column("provider", String(30), nullable=True)] if with_provider else []),
        Column("provider_reference", String(255), nullable=True, index=True),
        Column("claimed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("sent_at", DateTime(timezone=True), nullable=True),
    )
