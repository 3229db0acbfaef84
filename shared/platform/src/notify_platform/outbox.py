"""Transactional outbox: events are written in the same transaction as the change they describe, then relayed.

The relay takes unpublished rows with ``FOR UPDATE SKIP LOCKED`` (so replicas never publish the same row at the
same time), publishes each with a broker confirm, and deletes them in that same transaction. A crash between
publish and commit republishes the rows; consumers are idempotent, so that is harmless.

Each relay reports its outbox's lag: ``notify_outbox_pending`` (rows waiting) and ``notify_outbox_oldest_seconds``
(age of the oldest, 0 when empty). A pass that finds nothing to take sets both to 0 without a query (anything left
is being published by another replica's pass right now); otherwise they are read after the pass
(``count(*)`` and ``min(created_at)``, on its index), at most once per ``lag_interval`` seconds so the relay's
hot path (woken after every commit) pays for it only once in a while.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Any

from notify_contracts import Envelope, model_for_routing_key
from sqlalchemy import BigInteger, Column, DateTime, Index, LargeBinary, MetaData, String, Table, func, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.engine import Connection

from .broker import Broker, BrokerUnavailable
from .db import Database
from .logging import get_logger
from .metrics import OUTBOX_OLDEST_SECONDS, OUTBOX_PENDING, OUTBOX_RELAYED

log = get_logger(__name__)


def outbox_table(metadata: MetaData) -> Table:
    return Table(
        "outbox",
        metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
        Column("routing_key", String(200), nullable=False),
        Column("correlation_id", String(100), nullable=True),
        Column("body", LargeBinary, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Index("ix_outbox_created_at", "created_at"),
    )


def write(conn: Connection, table: Table, envelopes: Iterable[Envelope[Any]]) -> int:
    """Add events to the outbox inside the caller's transaction."""
    rows = [
        {
            "event_id": env.event_id,
            "routing_key": env.routing_key,
            "correlation_id": env.correlation_id,
            "body": env.model_dump_json().encode(),
        }
        for env in envelopes
    ]
    if rows:
        conn.execute(table.insert(), rows)
    return len(rows)


class OutboxRelay:
    """Publishes outbox rows. ``wake()`` after a commit for low latency; it also polls as a safety net."""

    def __init__(
        self,
        db: Database,
        broker: Broker,
        *,
        batch_size: int = 500,
        poll_interval: float = 0.5,
        lag_interval: float = 1.0,
    ) -> None:
        self.db = db
        self.broker = broker
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.lag_interval = lag_interval
        self._lag_due = 0.0  # time.monotonic() after which the next pass reads the lag
        self._wake = asyncio.Event()
        self._stopping = False

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        backoff = 0.5
        while not self._stopping:
            try:
                relayed = await self.relay_once()
                backoff = 0.5
            except (BrokerUnavailable, Exception) as exc:  # keep relaying after DB or broker outages
                log.warning("outbox.relay_failed", error=type(exc).__name__, detail=str(exc)[:200])
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10)
                continue
            if relayed >= self.batch_size:
                continue
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)
            except TimeoutError:
                pass

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def relay_once(self) -> int:
        """Publish one batch of pending rows with confirms and delete the confirmed ones. Returns how many.

        Rows are published independently: one the broker refuses stays in the outbox (and is retried on the next
        pass) without holding back the others.
        """
        conn = await self.db.run(self.db.engine.connect)
        try:
            trans = await self.db.run(conn.begin)
            rows = await self.db.run(
                lambda: conn.execute(
                    text(
                        "SELECT id, event_id, routing_key, correlation_id, body FROM outbox "
                        "ORDER BY id LIMIT :n FOR UPDATE SKIP LOCKED"
                    ),
                    {"n": self.batch_size},
                ).all()
            )
            if not rows:
                await self.db.run(trans.rollback)
                OUTBOX_PENDING.set(0)
                OUTBOX_OLDEST_SECONDS.set(0)
                return 0
            results = await asyncio.gather(*(self._publish(r) for r in rows), return_exceptions=True)
            done = [r.id for r, result in zip(rows, results, strict=True) if result is None]
            failures = [result for result in results if isinstance(result, BaseException)]
            if done:
                await self.db.run(
                    lambda: conn.execute(text("DELETE FROM outbox WHERE id = ANY(:ids)"), {"ids": done})
                )
            await self.db.run(trans.commit)
            OUTBOX_RELAYED.inc(len(done))
            if time.monotonic() >= self._lag_due:
                self._lag_due = time.monotonic() + self.lag_interval
                pending, oldest = await self.db.run(
                    lambda: conn.execute(
                        text(
                            "SELECT count(*), "
                            "coalesce(extract(epoch FROM clock_timestamp() - min(created_at)), 0) FROM outbox"
                        )
                    ).one()
                )
                OUTBOX_PENDING.set(pending)
                OUTBOX_OLDEST_SECONDS.set(max(float(oldest), 0.0))
            if failures:
                raise failures[0]
            return len(done)
        finally:
            await self.db.run(conn.close)

    async def _publish(self, row: Any) -> None:
        model = model_for_routing_key(row.routing_key)
        await self.broker.publish_raw(
            row.routing_key,
            bytes(row.body),
            message_id=str(row.event_id),
            correlation_id=row.correlation_id,
            mandatory=model.must_route if model is not None else True,
        )
