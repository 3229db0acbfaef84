"""The messaging runtime against a real RabbitMQ: confirms, batches, retries through delay queues, dead letters."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

import aio_pika
import pytest
from notify_contracts import Envelope, NotificationStatusReportedV1, new_envelope
from notify_platform.broker import Broker, BrokerUnavailable
from notify_platform.consumer import Consumer, Subscription, replay_dead_letters
from notify_tools.testing import Infra

pytestmark = pytest.mark.integration


def _report(status: str = "delivered") -> Envelope[Any]:
    payload = NotificationStatusReportedV1(
        notification_id=uuid.uuid4(), status=status, reported_at=datetime.now(UTC)
    )
    return new_envelope(payload, producer="test", correlation_id=str(uuid.uuid4()))


@pytest.fixture
async def broker(infra: Infra) -> AsyncIterator[Broker]:
    b = Broker(infra.amqp_url, exchange_name=f"test-{uuid.uuid4().hex[:8]}", producer="test")
    await b.connect(attempts=3)
    yield b
    await b.close()


async def _wait_for(predicate: Any, timeout: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def _dead_letters(broker: Broker, queue: str) -> list[aio_pika.abc.AbstractIncomingMessage]:
    channel = await broker.channel(prefetch=100)
    dlq = await channel.declare_queue(f"{queue}.dlq", durable=True, arguments={"x-queue-type": "quorum"})
    found = []
    while (message := await dlq.get(no_ack=False, fail=False)) is not None:
        found.append(message)
    return found


async def test_batches_are_handled_and_acked(broker: Broker) -> None:
    seen: list[Envelope[Any]] = []

    async def handler(batch: Sequence[Envelope[Any]]) -> None:
        seen.extend(batch)

    queue = f"q-{uuid.uuid4().hex[:8]}"
    consumer = Consumer(
        broker, Subscription(queue, ("notification.status_reported.*",), handler, batch_size=50)
    )
    await consumer.start()
    sent = [_report() for _ in range(120)]
    await asyncio.gather(*(broker.publish(e) for e in sent))
    await _wait_for(lambda: len(seen) == 120)
    await consumer.stop()
    assert {e.event_id for e in seen} == {e.event_id for e in sent}


async def test_undecodable_and_unknown_version_go_to_the_dead_letter_queue_and_consuming_goes_on(
    broker: Broker,
) -> None:
    seen: list[Envelope[Any]] = []

    async def handler(batch: Sequence[Envelope[Any]]) -> None:
        seen.extend(batch)

    queue = f"q-{uuid.uuid4().hex[:8]}"
    consumer = Consumer(broker, Subscription(queue, ("notification.status_reported.*",), handler))
    await consumer.start()
    good = _report()
    unknown = good.model_dump_json().replace('"version":1', '"version":7')
    await broker.publish_raw("notification.status_reported.v1", b"{not json")
    await broker.publish_raw("notification.status_reported.v7", unknown.encode())
    await broker.publish(good)
    await _wait_for(lambda: len(seen) == 1)
    await consumer.stop()
    assert seen[0].event_id == good.event_id
    dead = await _dead_letters(broker, queue)
    reasons = sorted(str(m.headers["x-death-reason"]) for m in dead)
    assert len(dead) == 2
    assert reasons[0].startswith("not an event envelope")
    assert reasons[1] == "unknown event notification.status_reported v7"
    assert {m.headers["x-original-routing-key"] for m in dead} == {
        "notification.status_reported.v1",
        "notification.status_reported.v7",
    }


async def test_a_failing_handler_is_retried_through_delay_queues_then_dead_lettered(broker: Broker) -> None:
    attempts: list[uuid.UUID] = []

    async def handler(batch: Sequence[Envelope[Any]]) -> None:
        attempts.extend(e.event_id for e in batch)
        raise RuntimeError("database is down")

    gave_up: list[tuple[uuid.UUID, str]] = []

    async def give_up(envelope: Envelope[Any], reason: str) -> None:
        gave_up.append((envelope.event_id, reason))

    queue = f"q-{uuid.uuid4().hex[:8]}"
    sub = Subscription(
        queue, ("notification.status_reported.*",), handler, retry_delays=(1, 1), on_give_up=give_up
    )
    consumer = Consumer(broker, sub)
    await consumer.start()
    poison = _report()
    await broker.publish(poison)
    await _wait_for(lambda: len(attempts) == 3, timeout=15)
    await asyncio.sleep(0.5)
    await consumer.stop()
    assert attempts == [poison.event_id] * 3  # first try + two retries
    assert gave_up == [(poison.event_id, "RuntimeError: database is down")]
    dead = await _dead_letters(broker, queue)
    assert len(dead) == 1
    assert str(dead[0].headers["x-death-reason"]).startswith(
        "retries exhausted: RuntimeError: database is down"
    )


async def test_one_poison_message_does_not_hold_back_its_batch(broker: Broker) -> None:
    done: list[uuid.UUID] = []
    poison = _report(status="permanent-failure")

    async def handler(batch: Sequence[Envelope[Any]]) -> None:
        if any(e.event_id == poison.event_id for e in batch):
            raise ValueError("cannot apply")
        done.extend(e.event_id for e in batch)

    queue = f"q-{uuid.uuid4().hex[:8]}"
    consumer = Consumer(
        broker,
        Subscription(
            queue,
            ("notification.status_reported.*",),
            handler,
            batch_size=20,
            batch_wait=0.2,
            retry_delays=(),
        ),
    )
    others = [_report() for _ in range(10)]
    await consumer.start()
    await asyncio.gather(*(broker.publish(e) for e in [*others[:5], poison, *others[5:]]))
    await _wait_for(lambda: len(done) == 10)
    await consumer.stop()
    assert set(done) == {e.event_id for e in others}
    assert len(await _dead_letters(broker, queue)) == 1


async def test_dead_letters_can_be_replayed(broker: Broker) -> None:
    queue = f"q-{uuid.uuid4().hex[:8]}"
    channel = await broker.channel(prefetch=10)
    main = await channel.declare_queue(queue, durable=True, arguments={"x-queue-type": "quorum"})
    await channel.declare_queue(f"{queue}.dlq", durable=True, arguments={"x-queue-type": "quorum"})
    await broker.publish_raw(f"{queue}.dlq", b"payload", headers={"x-death-reason": "x"}, exchange="")
    assert await replay_dead_letters(broker, queue) == 1
    message = await main.get(no_ack=True, fail=False)
    assert message is not None and message.body == b"payload"
    assert "x-death-reason" not in (message.headers or {})


async def test_replaying_an_unknown_queue_is_refused_and_declares_nothing(broker: Broker) -> None:
    queue = f"q-{uuid.uuid4().hex[:8]}"
    with pytest.raises(LookupError, match=queue):
        await replay_dead_letters(broker, queue)
    channel = await broker.channel(prefetch=1)
    await channel.declare_queue(queue, durable=True, arguments={"x-queue-type": "quorum"})
    # The queue alone: still no stray dead-letter queue.
    with pytest.raises(LookupError, match=rf"{queue}\.dlq"):
        await replay_dead_letters(broker, queue)
    assert broker.connection is not None
    with pytest.raises(aio_pika.exceptions.ChannelNotFoundEntity):
        async with broker.connection.channel() as probe:
            await probe.declare_queue(f"{queue}.dlq", passive=True)
    await channel.close()


async def test_an_unroutable_publish_is_an_error_not_a_silent_drop(broker: Broker) -> None:
    with pytest.raises(BrokerUnavailable):
        await broker.publish_raw("nobody.listens.v1", b"{}")


async def test_broadcast_subscriptions_give_every_process_its_own_copy(broker: Broker) -> None:
    seen: dict[str, list[uuid.UUID]] = {"a": [], "b": []}

    def handler_for(name: str) -> Any:
        async def handler(batch: Sequence[Envelope[Any]]) -> None:
            seen[name].extend(e.event_id for e in batch)

        return handler

    consumers = [
        Consumer(
            broker, Subscription("cache", ("notification.status_reported.*",), handler_for(n), broadcast=True)
        )
        for n in ("a", "b")
    ]
    for consumer in consumers:
        await consumer.start()
    event = _report()
    await broker.publish_raw("notification.status_reported.v1", b"garbage")  # dropped, never dead-lettered
    await broker.publish(event)
    await _wait_for(lambda: seen["a"] and seen["b"])
    for consumer in consumers:
        await consumer.stop()
    assert seen == {"a": [event.event_id], "b": [event.event_id]}


async def test_a_bundle_is_handled_as_its_events_counted_by_events_in_a_batch_and_acked_once(
    broker: Broker,
) -> None:
    batches: list[list[uuid.UUID]] = []

    async def handler(batch: Sequence[Envelope[Any]]) -> None:
        batches.append([e.event_id for e in batch])

    queue = f"q-{uuid.uuid4().hex[:8]}"
    consumer = Consumer(
        broker,
        Subscription(queue, ("notification.status_reported.*",), handler, batch_size=10, batch_wait=0.5),
    )
    await consumer.start()
    bundles = [[_report() for _ in range(6)] for _ in range(3)]
    for bundle in bundles:
        await broker.publish_bundle(bundle, correlation_id="job-1")
    single = _report()
    await broker.publish(single)
    await _wait_for(lambda: sum(map(len, batches)) == 19)
    await consumer.stop()
    assert sorted(i for batch in batches for i in batch) == sorted(
        [e.event_id for bundle in bundles for e in bundle] + [single.event_id]
    )
    # A batch closes once it holds batch_size events: two bundles (12), never all three (18).
    assert max(map(len, batches)) == 12
    assert await broker.queue_depth(queue) == 0  # every message acked


async def test_a_failing_bundle_is_retried_and_dead_lettered_whole_with_every_event_given_up(
    broker: Broker,
) -> None:
    attempts: list[int] = []
    gave_up: list[uuid.UUID] = []

    async def handler(batch: Sequence[Envelope[Any]]) -> None:
        attempts.append(len(batch))
        raise RuntimeError("database is down")

    async def give_up(envelope: Envelope[Any], reason: str) -> None:
        gave_up.append(envelope.event_id)

    queue = f"q-{uuid.uuid4().hex[:8]}"
    consumer = Consumer(
        broker,
        Subscription(
            queue, ("notification.status_reported.*",), handler, retry_delays=(1,), on_give_up=give_up
        ),
    )
    await consumer.start()
    bundle = [_report() for _ in range(4)]
    await broker.publish_bundle(bundle, correlation_id="job-1")
    await _wait_for(lambda: len(attempts) == 2, timeout=15)
    await asyncio.sleep(0.5)
    await consumer.stop()
    assert attempts == [4, 4]  # first try and one retry, each with the whole bundle
    assert gave_up == [e.event_id for e in bundle]
    (dead,) = await _dead_letters(broker, queue)
    assert dead.headers["x-events"] == 4
    assert str(dead.headers["x-death-reason"]).startswith("retries exhausted: RuntimeError")


async def test_a_broken_bundle_is_dead_lettered_with_its_reason_and_consuming_goes_on(broker: Broker) -> None:
    seen: list[uuid.UUID] = []

    async def handler(batch: Sequence[Envelope[Any]]) -> None:
        seen.extend(e.event_id for e in batch)

    queue = f"q-{uuid.uuid4().hex[:8]}"
    consumer = Consumer(broker, Subscription(queue, ("notification.status_reported.*",), handler))
    await consumer.start()
    good = _report()
    await broker.publish_raw("notification.status_reported.v1", b"[]", headers={"x-events": 0})
    await broker.publish(good)
    await _wait_for(lambda: seen == [good.event_id])
    await consumer.stop()
    (dead,) = await _dead_letters(broker, queue)
    assert dead.headers["x-death-reason"] == "an empty bundle"


async def test_queue_depth_reuses_its_channel_and_survives_a_missing_queue(broker: Broker) -> None:
    queue = f"q-{uuid.uuid4().hex[:8]}"
    channel = await broker.channel(prefetch=1)
    declared = await channel.declare_queue(queue, durable=True, arguments={"x-queue-type": "quorum"})
    await declared.bind(broker.exchange_name, routing_key="notification.status_reported.*")
    assert await broker.queue_depth(queue) == 0
    first = broker._depth_channel  # noqa: SLF001 (what is tested is that it is kept)
    await broker.publish(_report())
    await _wait_for_depth(broker, queue, 1)
    assert broker._depth_channel is first  # noqa: SLF001
    assert (
        await broker.queue_depth(f"{queue}-missing") is None
    )  # closes the depth channel, not the publishing one
    await broker.publish(_report())
    await _wait_for_depth(broker, queue, 2)


async def _wait_for_depth(broker: Broker, queue: str, depth: int) -> None:
    for _ in range(50):
        if await broker.queue_depth(queue) == depth:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{queue} never held {depth}")
