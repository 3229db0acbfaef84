"""Baseline: what RabbitMQ and aio-pika alone do on this machine, the floor the platform's own figures are read
against (issue 10's ratios: end to end / raw broker rate).

* **raw publish**: ``n`` persistent messages the size of a ``notification.requested`` event, published through the
  platform's ``Broker`` with a confirm each, 500 in flight at once (as the services publish), to a quorum queue.
* **raw consume**: the same ``n`` consumed with the services' prefetch (200) and acked one by one, with no handler.

Nothing else runs meanwhile: no service, no database. The CPU of this process and of RabbitMQ is reported per message.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from datetime import UTC, datetime

from notify_contracts import NotificationRequestedV1, new_envelope
from notify_platform.broker import Broker
from notify_platform.consumer import QUORUM

from ..testing import Infra
from . import cpu
from .report import Row, Section

TITLE = "Baseline: the broker alone"
WINDOW = 500
PREFETCH = 200
ROUTING_KEY = "bench.baseline.v1"


def sample_body() -> bytes:
    """One ``notification.requested.v1`` envelope, as the gateway publishes it for a text."""
    payload = NotificationRequestedV1(
        notification_id=uuid.uuid4(),
        service_id=uuid.uuid4(),
        notification_type="sms",
        template_id=uuid.uuid4(),
        template_version=1,
        recipient="07700 900123",
        normalised_recipient="447700900123",
        personalisation={"name": "Person", "day": "Monday"},
        key_type="normal",
        api_key_id=uuid.uuid4(),
        created_at=datetime.now(UTC),
        body="Hello Person, your appointment is on Monday. Reply STOP to opt out.",
        sender="GOVUK",
        billable_units=1,
    )
    return (
        new_envelope(payload, producer="bench", correlation_id=str(uuid.uuid4())).model_dump_json().encode()
    )


def _bench_and_broker(spent: dict[str, float]) -> float:
    return spent.get("bench", 0.0) + spent.get("rabbitmq", 0.0)


async def broker_rates(
    amqp_url: str, n: int, *, queue_name: str | None = None
) -> tuple[float, float, float, float]:
    """(publish rate, consume rate, CPU ms per message published, CPU ms per message consumed), CPU being this
    process's and RabbitMQ's together."""
    broker = Broker(amqp_url, exchange_name=f"bench-baseline-{uuid.uuid4().hex[:8]}", producer="bench")
    await broker.connect()
    channel = await broker.channel(PREFETCH)
    queue = await channel.declare_queue(
        f"bench.baseline.{uuid.uuid4().hex[:8]}", durable=True, arguments=QUORUM
    )
    await queue.bind(broker.exchange_name, routing_key=ROUTING_KEY)
    body = sample_body()
    me = {"bench": os.getpid()}
    try:
        before = cpu.snapshot(me)
        started = time.perf_counter()
        for start in range(0, n, WINDOW):
            await asyncio.gather(
                *(broker.publish_raw(ROUTING_KEY, body) for _ in range(min(WINDOW, n - start)))
            )
        published = time.perf_counter() - started
        publish_cpu = _bench_and_broker(cpu.spent(before, cpu.snapshot(me)))

        done = asyncio.Event()
        consumed = 0

        async def on_message(message: object) -> None:
            nonlocal consumed
            await message.ack()  # type: ignore[attr-defined]
            consumed += 1
            if consumed >= n:
                done.set()

        before = cpu.snapshot(me)
        started = time.perf_counter()
        tag = await queue.consume(on_message)
        await asyncio.wait_for(done.wait(), timeout=max(60.0, n / 200))
        drained = time.perf_counter() - started
        consume_cpu = _bench_and_broker(cpu.spent(before, cpu.snapshot(me)))
        await queue.cancel(tag)
    finally:
        await queue.delete(if_unused=False, if_empty=False)
        await channel.exchange_delete(broker.exchange_name)
        await channel.close()
        await broker.close()
    return n / published, n / drained, 1000 * publish_cpu / n, 1000 * consume_cpu / n


def run(infra: Infra, *, n: int) -> Section:
    publish_rate, consume_rate, publish_ms, consume_ms = asyncio.run(broker_rates(infra.amqp_url, n))
    section = Section(
        title=TITLE,
        intro=(
            f"{n:,} persistent messages the size of a `notification.requested` event (one quorum queue, nothing else "
            f"running): published through the platform's `Broker` with a confirm each, {WINDOW} in flight, then "
            f"consumed with a prefetch of {PREFETCH} and acked one by one, with no handler."
        ),
    )
    section.rows.append(Row("raw publish with confirms", publish_rate, "msg/s"))
    section.rows.append(Row("raw consume and ack", consume_rate, "msg/s"))
    section.notes.append(
        f"CPU per message (this process and RabbitMQ): publish {publish_ms:.2f} ms, consume and ack "
        f"{consume_ms:.2f} ms."
    )
    return section
