"""The transactional outbox against real PostgreSQL and RabbitMQ."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from notify_contracts import Envelope, NotificationStatusReportedV1, new_envelope
from notify_platform import outbox
from notify_platform.broker import Broker
from notify_platform.db import Database
from notify_tools.testing import Infra, scratch_database
from sqlalchemy import MetaData, func, select

pytestmark = pytest.mark.integration

metadata = MetaData()
table = outbox.outbox_table(metadata)


def _event() -> Envelope[Any]:
    payload = NotificationStatusReportedV1(
        notification_id=uuid.uuid4(), status="sending", reported_at=datetime.now(UTC)
    )
    return new_envelope(payload, producer="test", correlation_id="corr")


@pytest.fixture
def db(infra: Infra) -> Iterator[Database]:
    with scratch_database(infra, metadata, "outbox") as database:
        yield database


@pytest.fixture
async def broker(infra: Infra) -> AsyncIterator[tuple[Broker, Any]]:
    b = Broker(infra.amqp_url, exchange_name=f"outbox-{uuid.uuid4().hex[:6]}", producer="test")
    await b.connect(attempts=3)
    channel = await b.channel(prefetch=100)
    exchange = await channel.get_exchange(b.exchange_name)
    queue = await channel.declare_queue(exclusive=True)
    await queue.bind(exchange, routing_key="#")
    yield b, queue
    await b.close()


def _count(db: Database) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


async def test_rows_written_in_a_transaction_are_published_with_confirms_then_removed(
    db: Database, broker: Any
) -> None:
    b, queue = broker
    events = [_event() for _ in range(3)]
    await db.transaction(lambda conn: outbox.write(conn, table, events))
    relay = outbox.OutboxRelay(db, b, bundle_size=1)  # one message per event
    assert await relay.relay_once() == 3
    assert _count(db) == 0
    received = [await queue.get(timeout=5) for _ in events]
    assert {m.message_id for m in received} == {str(e.event_id) for e in events}
    assert {m.routing_key for m in received} == {"notification.status_reported.v1"}


async def test_rows_of_one_routing_key_go_out_as_bundles_each_event_intact(db: Database, broker: Any) -> None:
    from notify_contracts import BUNDLE_HEADER, ServiceChangedV1, decode_many

    b, queue = broker
    reports = [_event() for _ in range(5)]
    changes = [
        new_envelope(
            ServiceChangedV1(service_id=uuid.uuid4(), reason="updated"), producer="t", correlation_id="c"
        )
        for _ in range(2)
    ]
    await db.transaction(
        lambda conn: outbox.write(conn, table, [reports[0], changes[0], *reports[1:], changes[1]])
    )
    assert await outbox.OutboxRelay(db, b, bundle_size=2).relay_once() == 7
    assert _count(db) == 0
    messages = [await queue.get(timeout=5) for _ in range(4)]  # reports in 2 + 2 + 1, changes in 2
    assert await queue.get(timeout=1, fail=False) is None  # and nothing more
    by_key: dict[str, list[list[Envelope[Any]]]] = {}
    for message in messages:
        events = decode_many(message.body)
        assert message.message_id == str(events[0].event_id)
        assert (message.headers or {}).get(BUNDLE_HEADER) == (len(events) if len(events) > 1 else None)
        by_key.setdefault(message.routing_key, []).append(events)
    assert [len(b) for b in by_key["notification.status_reported.v1"]] == [2, 2, 1]
    assert [e for bundle in by_key["notification.status_reported.v1"] for e in bundle] == reports  # in order
    assert by_key["service.changed.v1"] == [changes]


async def test_a_rolled_back_transaction_leaves_nothing_to_publish(db: Database, broker: Any) -> None:
    def fail(conn: Any) -> None:
        outbox.write(conn, table, [_event()])
        raise RuntimeError("the change itself failed")

    with pytest.raises(RuntimeError):
        await db.transaction(fail)
    assert _count(db) == 0


async def test_rows_stay_when_the_broker_does_not_confirm(db: Database, infra: Infra) -> None:
    # An exchange with no queue bound: every publish is returned unroutable, so nothing may be deleted.
    lonely = Broker(infra.amqp_url, exchange_name=f"lonely-{uuid.uuid4().hex[:6]}", producer="test")
    await lonely.connect(attempts=3)
    try:
        await db.transaction(lambda conn: outbox.write(conn, table, [_event(), _event()]))
        with pytest.raises(Exception, match="refused by broker"):
            await outbox.OutboxRelay(db, lonely).relay_once()
        assert _count(db) == 2
    finally:
        await lonely.close()


async def test_a_refused_row_does_not_hold_back_the_others_and_announcements_need_no_subscriber(
    db: Database, infra: Infra
) -> None:
    from notify_contracts import ServiceChangedV1

    lonely = Broker(infra.amqp_url, exchange_name=f"lonely-{uuid.uuid4().hex[:6]}", producer="test")
    await lonely.connect(attempts=3)
    try:
        announcement = new_envelope(
            ServiceChangedV1(service_id=uuid.uuid4(), reason="updated"), producer="t", correlation_id="c"
        )
        request = _event()
        await db.transaction(lambda conn: outbox.write(conn, table, [announcement, request]))
        with pytest.raises(Exception, match="refused by broker"):
            await outbox.OutboxRelay(db, lonely).relay_once()
        # The announcement went (nobody listens, and that is fine); the request stays until it can be routed.
        with db.engine.connect() as conn:
            left = conn.execute(select(table.c.event_id)).scalars().all()
        assert left == [request.event_id]
    finally:
        await lonely.close()
