"""Transactional outbox: events are written in the same transaction as the change they describe, then relayed.

The relay takes unpublished rows with ``FOR UPDATE SKIP LOCKED`` (so replicas never publish the same row at the
same time), publishes them with broker confirms, and deletes them in that same transaction. A crash between
publish and commit republishes the rows; consumers are idempotent, so that is harmless.

Rows with the same routing key go out as bundles of up to ``bundle_size`` events in one message (the envelopes as
a JSON array with an ``x-events`` header, as jobs sends rows; the shared consumer handles each event as if it came
alone): one frame set, one confirm, one delivery and one ack for all of them, instead of one per event. Each event
keeps its own envelope and id. A bundle is confirmed, retried and, in the end, dead-lettered whole. A pass that
finds one row publishes it on its own, as before.

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

from notify_contracts import BUNDLE_HEADER, Envelope, model_for_routing_key
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
        bundle_size: int = 100,
        poll_interval: float = 0.5,
        lag_interval: float = 1.0,
    ) -> None:
        self.db = db
        self.broker = broker
        self.batch_size = batch_size
        self.bundle_size = bundle_size
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

        Bundles are published independently: one the broker refuses stays in the outbox (and is retried on the next
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
            bundles = self._bundles(rows)
            results = await asyncio.gather(*(self._publish(b) for b in bundles), return_exceptions=True)
            done = [r.id for b, result in zip(bundles, results, strict=True) if result is None for r in b]
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

    def _bundles(self, rows: list[Any]) -> list[list[Any]]:
        """The rows grouped by routing key (in outbox order within each), cut into bundles of ``bundle_size``."""
        by_key: dict[str, list[Any]] = {}
        for row in rows:
            by_key.setdefault(row.routing_key, []).append(row)
        size = max(1, self.bundle_size)
        return [group[i : i + size] for group in by_key.values() for i in range(0, len(group), size)]

    async def _publish(self, bundle: list[Any]) -> None:
        first = bundle[0]
        model = model_for_routing_key(first.routing_key)
        if len(bundle) == 1:
            body, headers = bytes(first.body), None
        else:
            body = b"[" + b",".join(bytes(row.body) for row in bundle) + b"]"
            headers = {BUNDLE_HEADER: len(bundle)}
        await self.broker.publish_raw(
            first.routing_key,
            body,
            message_id=str(first.event_id),
            correlation_id=first.correlation_id,
            headers=headers,
            mandatory=model.must_route if model is not None else True,
            events=len(bundle),
        )
