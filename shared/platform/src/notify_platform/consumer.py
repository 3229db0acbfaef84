"""Consuming with at-least-once delivery and handlers that commit before the ack.

Topology for a subscription on queue ``q`` (all durable):
- ``q``: a quorum queue bound to the exchange by the subscription's patterns;
- ``q.retry.<seconds>``: one delay queue per retry step; messages wait out the TTL, then are dead-lettered back
  to ``q`` through the default exchange (so only this consumer sees the retry);
- ``q.dlq``: a quorum queue for messages that cannot be decoded, have an unknown type or version, or failed every
  retry. Each carries ``x-death-reason`` and the original routing key. ``notifyctl replay-dlq`` moves them back.

Messages are handled in batches (one transaction per batch in the handler); if a batch fails, its messages are
handled one at a time so a single poison message cannot hold back the others. A message may be a bundle of events
(``notify_contracts.encode_bundle``, with its event count in the ``x-events`` header): its events are handled
together, acked, retried and dead-lettered as the one message they came in.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue, AbstractRobustChannel
from notify_contracts import BUNDLE_HEADER, Envelope, InvalidEvent, UnknownEvent, decode_many

from .broker import Broker
from .logging import bind_correlation_id, get_logger
from .metrics import EVENTS_CONSUMED, EVENTS_DEAD_LETTERED, EVENTS_FAILED

log = get_logger(__name__)

# Returns anything; a truthy value means it wrote events to the outbox (see ``Runtime.subscribe``).
BatchHandler = Callable[[Sequence[Envelope[Any]]], Awaitable[Any]]

QUORUM = {"x-queue-type": "quorum"}
DEFAULT_RETRY_DELAYS = (1, 5, 30, 120, 600)


@dataclass(frozen=True)
class Subscription:
    """A consumer queue, the routing patterns bound to it, and the idempotent batch handler behind it."""

    queue: str
    patterns: tuple[str, ...]
    handler: BatchHandler
    batch_size: int = 100
    batch_wait: float = 0.01
    retry_delays: tuple[int, ...] = DEFAULT_RETRY_DELAYS
    concurrency: int = 1
    # Broadcast: every process gets its own transient queue (exclusive, auto-deleted) and every copy of each
    # event. For cache invalidation only: no delay queues or dead letters, a failure is logged and dropped
    # (caches expire by themselves anyway).
    broadcast: bool = False
    # Called (in its own transaction) with an event whose retries are exhausted, before it is dead-lettered: the
    # place to record a final failure so nothing accepted is left without an outcome.
    on_give_up: Callable[[Envelope[Any], str], Awaitable[None]] | None = None

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.queue}.dlq"

    def retry_queue(self, delay: int) -> str:
        return f"{self.queue}.retry.{delay}s"


async def declare_topology(
    channel: AbstractRobustChannel, exchange_name: str, sub: Subscription
) -> AbstractQueue:
    """Declare (idempotently) the queue, its bindings, its delay queues and its dead-letter queue."""
    if sub.broadcast:
        exchange = await channel.declare_exchange(exchange_name, aio_pika.ExchangeType.TOPIC, durable=True)
        queue = await channel.declare_queue(
            f"{sub.queue}.{uuid.uuid4().hex[:12]}", exclusive=True, auto_delete=True, durable=False
        )
        for pattern in sub.patterns:
            await queue.bind(exchange, routing_key=pattern)
        return queue
    exchange = await channel.declare_exchange(exchange_name, aio_pika.ExchangeType.TOPIC, durable=True)
    queue = await channel.declare_queue(sub.queue, durable=True, arguments=QUORUM)
    for pattern in sub.patterns:
        await queue.bind(exchange, routing_key=pattern)
    await channel.declare_queue(sub.dead_letter_queue, durable=True, arguments=QUORUM)
    for delay in sub.retry_delays:
        await channel.declare_queue(
            sub.retry_queue(delay),
            durable=True,
            arguments={
                "x-message-ttl": delay * 1000,
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": sub.queue,
            },
        )
    return queue


class Consumer:
    """Runs one subscription: decode, dispatch in batches, ack after the handler returned (it has committed)."""

    def __init__(self, broker: Broker, sub: Subscription, *, prefetch: int = 200) -> None:
        self.broker = broker
        self.sub = sub
        self.prefetch = max(prefetch, sub.batch_size)
        self._buffer: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
        self._workers: list[asyncio.Task[None]] = []
        self._channel: AbstractRobustChannel | None = None
        self._queue: AbstractQueue | None = None
        self._consumer_tag: str | None = None
        self._stopping = False
        # Metric children by event type / reason, bound on first use (event types are registered ones only).
        self._consumed: dict[str, Any] = {}
        self._failed: dict[str, Any] = {}
        self._dead_lettered: dict[str, Any] = {}

    async def start(self) -> None:
        self._channel = await self.broker.channel(self.prefetch)
        self._queue = await declare_topology(self._channel, self.broker.exchange_name, self.sub)
        self._consumer_tag = await self._queue.consume(self._buffer.put)
        self._workers = [
            asyncio.create_task(self._work(), name=f"consume:{self.sub.queue}:{i}")
            for i in range(self.sub.concurrency)
        ]
        log.info("consumer.started", queue=self.sub.queue)

    async def stop(self, grace: float = 20.0) -> None:
        """Stop taking messages, let in-flight batches finish, and hand unstarted ones back to the broker."""
        self._stopping = True
        if self._queue is not None and self._consumer_tag is not None:
            with contextlib.suppress(Exception):
                await self._queue.cancel(self._consumer_tag)
        self._buffer.put_nowait(_STOP)  # type: ignore[arg-type]
        done, pending = await asyncio.wait(self._workers, timeout=grace) if self._workers else (set(), set())
        for task in pending:
            task.cancel()
        while not self._buffer.empty():
            message = self._buffer.get_nowait()
            if message is not _STOP:
                with contextlib.suppress(Exception):
                    await message.nack(requeue=True)
        if self._channel is not None:
            with contextlib.suppress(Exception):
                await self._channel.close()
        log.info("consumer.stopped", queue=self.sub.queue)

    async def _next_batch(self) -> list[AbstractIncomingMessage] | None:
        """Messages up to ``batch_size`` events (a bundle counts as the events it carries)."""
        first = await self._buffer.get()
        if first is _STOP:
            self._buffer.put_nowait(_STOP)  # type: ignore[arg-type]
            return None
        batch = [first]
        events = _event_count(first)
        deadline = asyncio.get_running_loop().time() + self.sub.batch_wait
        while events < self.sub.batch_size:
            timeout = deadline - asyncio.get_running_loop().time()
            try:
                message = (
                    self._buffer.get_nowait()
                    if timeout <= 0
                    else await asyncio.wait_for(self._buffer.get(), timeout)
                )
            except (TimeoutError, asyncio.QueueEmpty):
                break
            if message is _STOP:
                self._buffer.put_nowait(_STOP)  # type: ignore[arg-type]
                break
            batch.append(message)
            events += _event_count(message)
        return batch

    async def _work(self) -> None:
        while True:
            batch = await self._next_batch()
            if batch is None:
                return
            try:
                await self._process(batch)
            except Exception:  # a failure here must never stop the consumer
                log.exception("consumer.batch_crashed", queue=self.sub.queue)
                for message in batch:
                    with contextlib.suppress(Exception):
                        await message.nack(requeue=True)

    async def _process(self, batch: list[AbstractIncomingMessage]) -> None:
        decoded: list[tuple[AbstractIncomingMessage, list[Envelope[Any]]]] = []
        for message in batch:
            try:
                decoded.append((message, decode_many(message.body)))
            except (InvalidEvent, UnknownEvent) as exc:
                if self.sub.broadcast:
                    log.warning("consumer.broadcast_undecodable", queue=self.sub.queue, reason=str(exc)[:200])
                    await self._ack(message)
                else:
                    kind = "unknown_event" if isinstance(exc, UnknownEvent) else "undecodable"
                    await self._dead_letter(message, str(exc), kind, _event_count(message))
        if not decoded:
            return
        try:
            await self.sub.handler([env for _, envelopes in decoded for env in envelopes])
        except Exception as exc:
            if len(decoded) == 1:
                await self._retry_or_dead_letter(decoded[0][0], decoded[0][1], exc)
                return
            log.warning(
                "consumer.batch_failed", queue=self.sub.queue, size=len(decoded), error=type(exc).__name__
            )
            for message, envelopes in decoded:
                await self._process_one(message, envelopes)
            return
        for message, envelopes in decoded:
            await self._ack(message)
            self._count(self._consumed, EVENTS_CONSUMED, envelopes)

    async def _process_one(self, message: AbstractIncomingMessage, envelopes: list[Envelope[Any]]) -> None:
        """One message on its own (its events together, if it is a bundle)."""
        try:
            await self.sub.handler(envelopes)
        except Exception as exc:
            await self._retry_or_dead_letter(message, envelopes, exc)
        else:
            await self._ack(message)
            self._count(self._consumed, EVENTS_CONSUMED, envelopes)

    def _count(self, children: dict[str, Any], counter: Any, envelopes: list[Envelope[Any]]) -> None:
        """Count a message's events under its event type (a bundle's events share one type)."""
        event_type = envelopes[0].type
        child = children.get(event_type)
        if child is None:
            child = children[event_type] = counter.labels(self.sub.queue, event_type)
        child.inc(len(envelopes))

    async def _ack(self, message: AbstractIncomingMessage) -> None:
        # After a reconnect the delivery tag is stale; the broker redelivers and the idempotent handler absorbs it.
        with contextlib.suppress(Exception):
            await message.ack()

    async def _retry_or_dead_letter(
        self, message: AbstractIncomingMessage, envelopes: list[Envelope[Any]], exc: BaseException
    ) -> None:
        """Retry the message later (all its events, if it is a bundle), or dead-letter it when retries are spent."""
        envelope = envelopes[0]
        bind_correlation_id(envelope.correlation_id)
        self._count(self._failed, EVENTS_FAILED, envelopes)
        if self.sub.broadcast:
            log.warning("consumer.broadcast_failed", queue=self.sub.queue, error=type(exc).__name__)
            await self._ack(message)
            return
        attempt = int((message.headers or {}).get("x-attempt", 0))
        reason = f"{type(exc).__name__}: {exc}"[:500]
        if attempt >= len(self.sub.retry_delays):
            log.error(
                "consumer.retries_exhausted",
                queue=self.sub.queue,
                event_id=str(envelope.event_id),
                events=len(envelopes),
            )
            if self.sub.on_give_up is not None:
                for each in envelopes:
                    try:
                        await self.sub.on_give_up(each, reason)
                    except Exception:  # still dead-lettered with its reason; ops can replay it
                        log.exception(
                            "consumer.give_up_failed", queue=self.sub.queue, event_id=str(each.event_id)
                        )
            await self._dead_letter(
                message, f"retries exhausted: {reason}", "retries_exhausted", len(envelopes)
            )
            return
        delay = self.sub.retry_delays[attempt]
        log.warning(
            "consumer.retry_scheduled",
            queue=self.sub.queue,
            event_id=str(envelope.event_id),
            attempt=attempt + 1,
            delay_s=delay,
            error=type(exc).__name__,
        )
        headers = dict(message.headers or {})
        headers.update({"x-attempt": attempt + 1, "x-last-error": reason})
        await self.broker.publish_raw(
            self.sub.retry_queue(delay),
            message.body,
            message_id=message.message_id,
            correlation_id=message.correlation_id,
            headers=headers,
            exchange="",
        )
        await self._ack(message)

    async def _dead_letter(
        self, message: AbstractIncomingMessage, reason: str, kind: str, events: int
    ) -> None:
        """Move ``message`` to the dead-letter queue with its ``reason``; ``kind`` (one of
        ``metrics.DEAD_LETTER_REASONS``) and ``events`` (how many it carries) are what is counted."""
        log.error(
            "consumer.dead_lettered", queue=self.sub.queue, reason=reason[:200], message_id=message.message_id
        )
        headers = dict(message.headers or {})
        headers.update(
            {
                "x-death-reason": reason[:1000],
                "x-original-routing-key": message.routing_key or "",
                "x-dead-lettered-at": datetime.now(UTC).isoformat(),
            }
        )
        await self.broker.publish_raw(
            self.sub.dead_letter_queue,
            message.body,
            message_id=message.message_id,
            correlation_id=message.correlation_id,
            headers=headers,
            exchange="",
        )
        child = self._dead_lettered.get(kind)
        if child is None:
            child = self._dead_lettered[kind] = EVENTS_DEAD_LETTERED.labels(self.sub.queue, kind)
        child.inc(events)
        await self._ack(message)


_STOP: Any = object()


def _event_count(message: AbstractIncomingMessage) -> int:
    """How many events a message carries, as its publisher declared (a bundle); 1 for anything else."""
    try:
        return max(1, int((message.headers or {}).get(BUNDLE_HEADER, 1)))  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return 1


async def _never(_: Sequence[Envelope[Any]]) -> None:
    raise RuntimeError("declaration only")


async def declare_queues(broker: Broker, queues: dict[str, tuple[str, ...]]) -> None:
    """Declare consumer queues ahead of their consumers (the ``migrate`` role does this), so that nothing
    published before a consumer first starts is unroutable."""
    channel = await broker.channel(prefetch=1)
    try:
        for queue, patterns in queues.items():
            await declare_topology(channel, broker.exchange_name, Subscription(queue, patterns, _never))
    finally:
        await channel.close()


async def replay_dead_letters(broker: Broker, queue: str, *, limit: int | None = None) -> int:
    """Move messages from ``<queue>.dlq`` back onto ``queue`` (confirmed before each is removed).

    Both queues must exist already: they are looked up with passive declares, each on a channel of its own (a
    missing queue closes the channel that asked), so a mistyped name raises ``LookupError`` instead of declaring a
    stray ``<name>.dlq``."""
    assert broker.connection is not None, "connect() first"
    for name in (queue, f"{queue}.dlq"):
        try:
            async with broker.connection.channel(publisher_confirms=False) as probe:
                await probe.declare_queue(name, passive=True)
        except aio_pika.exceptions.ChannelNotFoundEntity:
            raise LookupError(f"no queue named {name!r} on the broker") from None
    channel = await broker.channel(prefetch=1)
    dlq = await channel.declare_queue(f"{queue}.dlq", passive=True)
    moved = 0
    try:
        while limit is None or moved < limit:
            message = await dlq.get(no_ack=False, fail=False)
            if message is None:
                break
            headers = {
                k: v
                for k, v in (message.headers or {}).items()
                if k not in {"x-death-reason", "x-attempt", "x-last-error", "x-dead-lettered-at"}
            }
            headers["x-replayed"] = True
            await broker.publish_raw(
                queue, message.body, message_id=message.message_id, headers=headers, exchange=""
            )
            await message.ack()
            moved += 1
    finally:
        await channel.close()
    return moved
