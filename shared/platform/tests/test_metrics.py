"""The shared metrics: HTTP latency by route template, events by type, outbox lag.

Counters are process-wide, so each test reads deltas (``REGISTRY.get_sample_value`` before and after) on labels
of its own (a fresh queue, a route template no other test uses).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from notify_contracts import Envelope, NotificationStatusReportedV1, new_envelope
from notify_platform import outbox
from notify_platform.broker import Broker
from notify_platform.consumer import Consumer, Subscription
from notify_platform.db import Database
from notify_platform.runtime import Runtime, create_app
from notify_platform.settings import CommonSettings
from notify_tools.testing import Infra, scratch_database
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import MetaData, text
from starlette.requests import Request
from starlette.responses import PlainTextResponse

EVENT_TYPE = "notification.status_reported"


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _report() -> Envelope[Any]:
    payload = NotificationStatusReportedV1(
        notification_id=uuid.uuid4(), status="delivered", reported_at=datetime.now(UTC)
    )
    return new_envelope(payload, producer="test", correlation_id=str(uuid.uuid4()))


async def _wait_for(predicate: Any, timeout: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


# --- HTTP ----------------------------------------------------------------------------------------------------
def _app() -> FastAPI:
    router = APIRouter()

    @router.get("/metrics-test/things/{thing_id}")
    async def thing(thing_id: str) -> dict[str, str]:
        return {"id": thing_id}

    @router.post("/metrics-test/broken")
    async def broken() -> None:
        raise RuntimeError("boom")

    async def plain(request: Request) -> PlainTextResponse:  # a plain Starlette route, as receipts use
        return PlainTextResponse("ok", status_code=202)

    router.add_route("/metrics-test/plain/{provider_name}", plain, methods=["POST"])
    return create_app(Runtime("svc", CommonSettings()), [router])


def _scrape(body: str) -> dict[tuple[str, str, str], float]:
    """``notify_http_request_seconds`` request counts by (route, method, status), from a ``/metrics`` page."""
    counts = {}
    for family in text_string_to_metric_families(body):
        if family.name == "notify_http_request_seconds":
            for sample in family.samples:
                if sample.name == "notify_http_request_seconds_count":
                    labels = sample.labels
                    counts[(labels["route"], labels["method"], labels["status"])] = sample.value
    return counts


async def test_requests_are_timed_by_route_template_method_and_status_and_scraped_at_metrics() -> None:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        before = _scrape((await client.get("/metrics")).text)
        assert (await client.get(f"/metrics-test/things/{uuid.uuid4()}")).status_code == 200
        assert (await client.get(f"/metrics-test/things/{uuid.uuid4()}")).status_code == 200
        assert (await client.post("/metrics-test/plain/mmg")).status_code == 202
        assert (await client.post("/metrics-test/broken")).status_code == 500
        assert (await client.get("/metrics-test/nothing/here")).status_code == 404
        assert (await client.request("BREW", "/metrics-test/things/x")).status_code == 405
        page = await client.get("/metrics")
    assert page.status_code == 200
    after = _scrape(page.text)

    def delta(route: str, method: str, status: str) -> float:
        return after.get((route, method, status), 0) - before.get((route, method, status), 0)

    assert delta("/metrics-test/things/{thing_id}", "GET", "200") == 2
    assert delta("/metrics-test/plain/{provider_name}", "POST", "202") == 1
    assert delta("/metrics-test/broken", "POST", "500") == 1
    assert delta("unmatched", "GET", "404") >= 1
    assert delta("/metrics-test/things/{thing_id}", "other", "405") == 1  # a method outside the standard set
    routes = {route for route, _, _ in after}
    assert not any(
        "metrics-test/things/" in route and "{" not in route for route in routes
    )  # never a raw path
    assert "/metrics" not in routes  # the scrape itself is not timed
    assert "/metrics-test/plain/mmg" not in routes


# --- events --------------------------------------------------------------------------------------------------
@pytest.fixture
async def broker(infra: Infra) -> AsyncIterator[Broker]:
    b = Broker(infra.amqp_url, exchange_name=f"metrics-{uuid.uuid4().hex[:8]}", producer="test")
    await b.connect(attempts=3)
    yield b
    await b.close()


async def test_events_are_counted_published_consumed_failed_and_dead_lettered_by_type_and_reason(
    broker: Broker,
) -> None:
    always_fails, fails_once = _report(), _report()
    failed_before: set[uuid.UUID] = set()
    handled: list[uuid.UUID] = []

    async def handler(batch: Sequence[Envelope[Any]]) -> None:
        ids = {e.event_id for e in batch}
        if always_fails.event_id in ids:
            raise RuntimeError("cannot apply")
        if fails_once.event_id in ids and fails_once.event_id not in failed_before:
            failed_before.add(fails_once.event_id)
            raise RuntimeError("not yet")
        handled.extend(ids)

    queue = f"q-{uuid.uuid4().hex[:8]}"
    consumer = Consumer(
        broker, Subscription(queue, (f"{EVENT_TYPE}.*",), handler, batch_size=20, retry_delays=(1,))
    )
    await consumer.start()
    published = _value("notify_events_published_total", event_type=EVENT_TYPE)
    other = _value("notify_events_published_total", event_type="other")

    singles = [_report() for _ in range(3)]
    bundle = [_report() for _ in range(4)]
    for event in [*singles, always_fails, fails_once]:
        await broker.publish(event)
    await broker.publish_bundle(bundle, correlation_id="job-1")
    await broker.publish_raw(f"{EVENT_TYPE}.v1", b"{not json")  # confirmed, but not a known event
    unknown = singles[0].model_dump_json().replace('"version":1', '"version":7')
    await broker.publish_raw(f"{EVENT_TYPE}.v7", unknown.encode())
    await _wait_for(lambda: len(handled) == 8, timeout=15)  # 3 singles, the bundle's 4, fails_once at last
    await _wait_for(
        lambda: _value("notify_events_dead_lettered_total", queue=queue, reason="retries_exhausted") == 1,
        timeout=15,
    )
    await consumer.stop()

    # Retries and dead letters go to queues by name: they are not published events.
    # By routing key: the garbage went out as a status report; v7 is no registered contract.
    assert _value("notify_events_published_total", event_type=EVENT_TYPE) - published == 3 + 2 + 4 + 1
    assert _value("notify_events_published_total", event_type="other") - other == 1
    assert _value("notify_events_consumed_total", queue=queue, event_type=EVENT_TYPE) == 8
    # always_fails twice (first try, its retry), fails_once once.
    assert _value("notify_events_failed_total", queue=queue, event_type=EVENT_TYPE) == 3
    assert _value("notify_events_dead_lettered_total", queue=queue, reason="undecodable") == 1
    assert _value("notify_events_dead_lettered_total", queue=queue, reason="unknown_event") == 1


async def test_a_bundle_given_up_counts_each_of_its_events(broker: Broker) -> None:
    async def handler(batch: Sequence[Envelope[Any]]) -> None:
        raise RuntimeError("database is down")

    queue = f"q-{uuid.uuid4().hex[:8]}"
    consumer = Consumer(broker, Subscription(queue, (f"{EVENT_TYPE}.*",), handler, retry_delays=()))
    await consumer.start()
    await broker.publish_bundle([_report() for _ in range(5)], correlation_id="job-1")
    await _wait_for(
        lambda: _value("notify_events_dead_lettered_total", queue=queue, reason="retries_exhausted") == 5
    )
    await consumer.stop()
    assert _value("notify_events_failed_total", queue=queue, event_type=EVENT_TYPE) == 5
    assert _value("notify_events_consumed_total", queue=queue, event_type=EVENT_TYPE) == 0


# --- outbox --------------------------------------------------------------------------------------------------
metadata = MetaData()
table = outbox.outbox_table(metadata)


@pytest.fixture
def db(infra: Infra) -> Iterator[Database]:
    with scratch_database(infra, metadata, "outbox_metrics") as database:
        yield database


async def test_the_relay_reports_its_lag_and_counts_what_it_published(db: Database, infra: Infra) -> None:
    events = [_report() for _ in range(3)]
    await db.transaction(lambda conn: outbox.write(conn, table, events))
    await db.transaction(
        lambda conn: conn.execute(text("UPDATE outbox SET created_at = now() - interval '30 seconds'"))
    )
    # An exchange nobody listens on: every row (a request, which must route) is refused and stays.
    lonely = Broker(infra.amqp_url, exchange_name=f"lonely-{uuid.uuid4().hex[:6]}", producer="test")
    await lonely.connect(attempts=3)
    try:
        with pytest.raises(Exception, match="refused by broker"):
            await outbox.OutboxRelay(db, lonely, lag_interval=0).relay_once()
    finally:
        await lonely.close()
    assert _value("notify_outbox_pending") == 3
    assert 30 <= _value("notify_outbox_oldest_seconds") < 120

    relayed = _value("notify_outbox_relayed_total")
    published = _value("notify_events_published_total", event_type=EVENT_TYPE)
    b = Broker(infra.amqp_url, exchange_name=f"outbox-{uuid.uuid4().hex[:6]}", producer="test")
    await b.connect(attempts=3)
    try:
        channel = await b.channel(prefetch=10)
        queue = await channel.declare_queue(exclusive=True)
        await queue.bind(await channel.get_exchange(b.exchange_name), routing_key="#")
        relay = outbox.OutboxRelay(db, b, lag_interval=0)
        assert await relay.relay_once() == 3
        assert _value("notify_outbox_pending") == 0
        assert _value("notify_outbox_oldest_seconds") == 0
        assert _value("notify_outbox_relayed_total") - relayed == 3
        assert _value("notify_events_published_total", event_type=EVENT_TYPE) - published == 3

        # A pass that finds nothing says so without a query; a throttled pass leaves the last reading alone.
        assert await relay.relay_once() == 0
        assert _value("notify_outbox_pending") == 0
        throttled = outbox.OutboxRelay(db, b, lag_interval=3600)
        await db.transaction(lambda conn: outbox.write(conn, table, [_report()]))
        assert await throttled.relay_once() == 1  # first pass reads the lag (nothing left)
        assert _value("notify_outbox_pending") == 0
    finally:
        await b.close()
