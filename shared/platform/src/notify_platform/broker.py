"""RabbitMQ on aio-pika: one topic exchange, publisher confirms on every publish, and self-recovering connections.

Every publish is persistent, ``mandatory`` (an unroutable message is an error, not a silent drop) and awaits its
broker confirm, so a caller that got no exception knows the message is on a durable queue.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import aio_pika
import aiormq
from aio_pika.abc import (
    AbstractChannel,
    AbstractRobustChannel,
    AbstractRobustConnection,
    AbstractRobustExchange,
)
from notify_contracts import BUNDLE_HEADER, Envelope, encode_bundle, model_for_routing_key

from .logging import get_logger
from .metrics import EVENTS_PUBLISHED

log = get_logger(__name__)


_PUBLISHED: dict[
    str, Any
] = {}  # routing key -> its notify_events_published_total child (registered keys only)


def _published(routing_key: str) -> Any:
    child = _PUBLISHED.get(routing_key)
    if child is None:
        model = model_for_routing_key(routing_key)
        if model is None:
            return EVENTS_PUBLISHED.labels("other")
        child = _PUBLISHED[routing_key] = EVENTS_PUBLISHED.labels(model.event_type)
    return child


class BrokerUnavailable(Exception):
    """The broker did not confirm a publish (down, unreachable, unroutable or timed out)."""


class Broker:
    def __init__(self, url: str, *, exchange_name: str, producer: str, publish_timeout: float = 5.0) -> None:
        self.url = url
        self.exchange_name = exchange_name
        self.producer = producer
        self.publish_timeout = publish_timeout
        self.connection: AbstractRobustConnection | None = None
        self._channel: AbstractRobustChannel | None = None
        self._depth_channel: AbstractChannel | None = None  # queue_depth's, kept between calls
        self.exchange: AbstractRobustExchange | None = None

    async def connect(self, *, attempts: int = 30) -> None:
        """Connect (retrying while the broker starts) and declare the exchange. Reconnects happen by themselves."""
        for attempt in range(1, attempts + 1):
            try:
                self.connection = await aio_pika.connect_robust(
                    self.url, client_properties={"connection_name": self.producer}, timeout=5
                )
                break
            except (TimeoutError, OSError, aio_pika.exceptions.AMQPError) as exc:
                if attempt == attempts:
                    raise
                log.warning("broker.connect_retry", attempt=attempt, error=type(exc).__name__)
                await asyncio.sleep(min(attempt, 5))
        assert self.connection is not None
        self._channel = await self.connection.channel(publisher_confirms=True)  # type: ignore[assignment]
        self.exchange = await self._channel.declare_exchange(  # type: ignore[union-attr]
            self.exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
        )

    async def channel(self, prefetch: int) -> AbstractRobustChannel:
        assert self.connection is not None, "connect() first"
        channel = await self.connection.channel(publisher_confirms=True)
        await channel.set_qos(prefetch_count=prefetch)
        return channel  # type: ignore[return-value]

    @property
    def is_connected(self) -> bool:
        return bool(
            self.connection
            and not self.connection.is_closed
            and self._channel
            and not self._channel.is_closed
        )

    async def publish(self, envelope: Envelope[Any], *, headers: dict[str, Any] | None = None) -> None:
        await self.publish_raw(
            envelope.routing_key,
            envelope.model_dump_json().encode(),
            message_id=str(envelope.event_id),
            correlation_id=envelope.correlation_id,
            headers=headers,
            mandatory=envelope.payload.must_route,
        )

    async def publish_bundle(self, envelopes: Sequence[Envelope[Any]], *, correlation_id: str) -> None:
        """Several events of one type and version as one message (``notify_contracts.encode_bundle``): one frame
        set, one confirm, one delivery and one ack for all of them. Consumers handle each event as if it came alone."""
        first = envelopes[0]
        await self.publish_raw(
            first.routing_key,
            encode_bundle(envelopes),
            message_id=str(first.event_id),
            correlation_id=correlation_id,
            headers={BUNDLE_HEADER: len(envelopes)},
            mandatory=first.payload.must_route,
            events=len(envelopes),
        )

    async def publish_raw(
        self,
        routing_key: str,
        body: bytes,
        *,
        message_id: str | None = None,
        correlation_id: str | None = None,
        headers: dict[str, Any] | None = None,
        exchange: str | None = None,
        mandatory: bool = True,
        events: int = 1,
    ) -> None:
        """Publish and wait for the broker's confirm. ``exchange=""`` targets a queue by name.

        ``mandatory`` (the default) makes an unroutable message an error instead of a silent drop; announcements
        that may legitimately have no subscriber publish with ``mandatory=False``.

        A confirmed publish to the exchange counts ``events`` (how many the message carries: a bundle's size) in
        ``notify_events_published_total`` under the routing key's event type (``other`` for a routing key no
        contract registers). Publishes to a queue by name (retries, dead letters, replays) are not events."""
        if self._channel is None or self.exchange is None:
            raise BrokerUnavailable("not connected")
        message = aio_pika.Message(
            body,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            content_type="application/json",
            message_id=message_id,
            correlation_id=correlation_id,
            headers=headers or {},
            app_id=self.producer,
        )
        target = self.exchange if exchange is None else self._channel.default_exchange
        try:
            confirmation = await asyncio.wait_for(
                target.publish(message, routing_key=routing_key, mandatory=mandatory), self.publish_timeout
            )
        except (TimeoutError, aio_pika.exceptions.AMQPError, OSError, RuntimeError) as exc:
            raise BrokerUnavailable(f"publish of {routing_key} not confirmed: {type(exc).__name__}") from exc
        if confirmation is not None and not isinstance(confirmation, aiormq.spec.Basic.Ack):
            raise BrokerUnavailable(
                f"publish of {routing_key} refused by broker: {type(confirmation).__name__}"
            )
        if exchange is None:
            _published(routing_key).inc(events)

    async def queue_depth(self, queue: str) -> int | None:
        """How many messages wait in ``queue``; None when it cannot be told. A passive declare on a channel of its
        own, kept between calls (a job worker asks before every batch): a missing queue closes that channel, never
        the publishing one, and the next call opens another."""
        if self.connection is None or self.connection.is_closed:
            return None
        try:
            if self._depth_channel is None or self._depth_channel.is_closed:
                self._depth_channel = await self.connection.channel(publisher_confirms=False)
            # The AMQP channel underneath: aio-pika's declare_queue answers a queue declared once before from its cache.
            underlay = await self._depth_channel.get_underlay_channel()
            count = (await underlay.queue_declare(queue, passive=True)).message_count
        except (aio_pika.exceptions.AMQPError, OSError, RuntimeError):
            self._depth_channel = None
            return None
        return int(count) if count is not None else None

    async def ping(self) -> None:
        if not self.is_connected:
            raise BrokerUnavailable("broker connection is closed")

    async def close(self) -> None:
        if self.connection is not None:
            await self.connection.close()
