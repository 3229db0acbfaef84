"""Service callbacks against a real PostgreSQL and a real HTTP endpoint: which status changes are owed one, the exact
request, retries (5xx, 429, timeouts, connection errors) and none on other 4xx, the SSRF guard, exhausted callbacks
replayed, and one slow service never holding back another."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from notify_contracts import NotificationRequestedV1, NotificationStatusChangedV1, new_envelope
from notify_notifications.adapters import callback_queue as queue
from notify_notifications.adapters.callback_http import (
    CallbackPoster,
    TargetRefused,
    parse_networks,
    resolve_allowed,
)
from notify_notifications.adapters.crypto import SecretBox
from notify_notifications.adapters.tables import (
    callback_deliveries,
    metadata,
    service_callback_api,
)
from notify_notifications.handlers.callbacks import CallbackDispatcher, queue_status_callbacks
from notify_notifications.handlers.ingest import ingest
from notify_platform.db import Database
from notify_tools.callback_receiver import CallbackReceiver
from notify_tools.ops import replay_callbacks
from notify_tools.testing import Infra, scratch_database
from sqlalchemy import delete, select

from .rows import add_user_and_service

pytestmark = pytest.mark.integration

BOX = SecretBox(["a-test-secret-key-of-16+"])
TOKEN = "a-bearer-token-for-tests"
LOOPBACK = parse_networks("127.0.0.0/8,::1/128")
CREATED = datetime(2026, 11, 22, 9, 30, 1, 123456, tzinfo=UTC)


@pytest.fixture
def db(infra: Infra) -> Iterator[Database]:
    with scratch_database(infra, metadata, "callbacks") as database:
        yield database


@pytest.fixture
def receiver() -> Iterator[CallbackReceiver]:
    with CallbackReceiver() as r:
        yield r


def add_service(db: Database, url: str | None, *, callback_type: str = "delivery_status") -> uuid.UUID:
    with db.unit_of_work() as conn:
        user_id, sid = add_user_and_service(conn)
        if url is not None:
            conn.execute(
                service_callback_api.insert().values(
                    id=uuid.uuid4(),
                    service_id=sid,
                    callback_type=callback_type,
                    url=url,
                    bearer_token_encrypted=BOX.encrypt(TOKEN),
                    updated_by_id=user_id,
                )
            )
    return sid


def add_notification(
    db: Database,
    service_id: uuid.UUID,
    *,
    kind: str = "sms",
    recipient: str = "07700 900123",
    normalised: str = "447700900123",
    key_type: str = "normal",
) -> uuid.UUID:
    nid = uuid.uuid4()
    payload = NotificationRequestedV1(
        notification_id=nid,
        service_id=service_id,
        notification_type=kind,
        template_id=uuid.UUID("9b8c9d2e-1111-4222-8333-444455556666"),
        template_version=3,
        recipient=recipient,
        normalised_recipient=normalised,
        key_type=key_type,
        created_at=CREATED,
        body="Hello",
        subject="Hi" if kind == "email" else None,
        client_reference="ref-42",
        address_lines=["A Person", "1 Street", "SW1A 1AA"] if kind == "letter" else None,
    )
    with db.unit_of_work() as conn:
        ingest(conn, [new_envelope(payload, producer="test", correlation_id="c")], email_domain="example")
    return nid


def changed(
    service_id: uuid.UUID, nid: uuid.UUID, status: str, *, kind: str = "sms", key_type: str = "normal"
) -> Any:
    at = datetime(2026, 11, 22, 9, 31, 2, 654321, tzinfo=UTC)
    return new_envelope(
        NotificationStatusChangedV1(
            notification_id=nid,
            service_id=service_id,
            notification_type=kind,
            key_type=key_type,
            previous_status="sending",
            status=status,
            sent_at=at - timedelta(seconds=1),
            completed_at=at,
        ),
        producer="notifications",
        correlation_id="c",
    )


def queued(db: Database) -> list[Any]:
    with db.engine.connect() as conn:
        return list(conn.execute(select(callback_deliveries).order_by(callback_deliveries.c.created_at)))


def enqueue_changes(db: Database, envelopes: list[Any]) -> int:
    with db.unit_of_work() as conn:
        return queue_status_callbacks(conn, envelopes)


def dispatcher(
    db: Database,
    *,
    delays: tuple[float, ...] = (0, 0, 0, 0, 0),
    timeout: float = 5.0,
    per_service: int = 4,
    allowed: Any = LOOPBACK,
    allow_http: bool = True,
) -> CallbackDispatcher:
    poster = CallbackPoster(timeout=timeout, allowed_networks=allowed, allow_http=allow_http)
    return CallbackDispatcher(
        db, BOX, poster, retry_delays=delays, max_in_flight=32, per_service=per_service, poll_interval=0.05
    )


async def settle(d: CallbackDispatcher, db: Database, until: Any, timeout: float = 15.0) -> list[Any]:
    """Dispatch until ``until(rows)`` holds for the callback rows (then let every started POST finish)."""
    deadline = time.monotonic() + timeout
    while True:
        await d.dispatch_once()
        await asyncio.sleep(0.02)
        rows = queued(db)
        if until(rows) and not d.in_flight:
            await d.drain()
            return queued(db)
        if time.monotonic() > deadline:
            raise AssertionError(f"not settled: {[(r.state, r.attempts, r.last_error) for r in rows]}")


def final(rows: list[Any]) -> bool:
    return bool(rows) and all(r.state != queue.PENDING for r in rows)


# --- which status changes are owed a callback --------------------------------------------------------------------


def test_a_delivery_status_callback_carries_exactly_the_documented_fields(db: Database) -> None:
    sid = add_service(db, "https://example.gov.uk/cb")
    nid = add_notification(db, sid)
    event = changed(sid, nid, "delivered")
    assert enqueue_changes(db, [event]) == 1
    (row,) = queued(db)
    assert (row.service_id, row.callback_type, row.state, row.attempts) == (
        sid,
        "delivery_status",
        "pending",
        0,
    )
    assert row.payload == {
        "id": str(nid),
        "reference": "ref-42",
        "to": "07700 900123",
        "status": "delivered",
        "created_at": "2026-11-22T09:30:01.123456Z",
        "completed_at": "2026-11-22T09:31:02.654321Z",
        "sent_at": None,  # the stored notification's, which no report has set here
        "notification_type": "sms",
        "template_id": "9b8c9d2e-1111-4222-8333-444455556666",
        "template_version": 3,
    }


def test_each_status_change_is_queued_once_and_only_those_owed(db: Database) -> None:
    sid = add_service(db, "https://example.gov.uk/cb")
    unconfigured = add_service(db, None)
    sms = add_notification(db, sid)
    email = add_notification(
        db, sid, kind="email", recipient="Someone@Example.gov.uk", normalised="someone@example.gov.uk"
    )
    test_key = add_notification(db, sid, key_type="test")
    smoke = add_notification(db, sid, recipient="07700 900000", normalised="447700900000")
    letter = add_notification(
        db, sid, kind="letter", recipient="A Person\n1 Street\nSW1A 1AA", normalised="x"
    )
    other = add_notification(db, unconfigured)
    delivered = changed(sid, sms, "delivered")
    events = [
        delivered,
        delivered,  # the same event again (redelivered)
        changed(sid, sms, "sending"),  # not a receipt
        changed(sid, email, "permanent-failure", kind="email"),
        changed(sid, test_key, "temporary-failure", key_type="test"),  # test keys are called back
        changed(sid, smoke, "delivered"),  # smoke-test recipients never
        changed(sid, letter, "delivered", kind="letter"),  # letters never
        changed(unconfigured, other, "delivered"),  # no callback configured
    ]
    assert enqueue_changes(db, events) == 3
    assert enqueue_changes(db, [delivered]) == 0
    got = sorted((r.payload["id"], r.payload["status"]) for r in queued(db))
    assert got == sorted(
        [(str(sms), "delivered"), (str(email), "permanent-failure"), (str(test_key), "temporary-failure")]
    )


# --- sending -------------------------------------------------------------------------------------------------------


async def test_a_callback_is_posted_with_its_bearer_token_and_json_body(
    db: Database, receiver: CallbackReceiver
) -> None:
    sid = add_service(db, receiver.url("/status"))
    nid = add_notification(db, sid)
    enqueue_changes(db, [changed(sid, nid, "delivered")])
    (queued_row,) = queued(db)
    rows = await settle(dispatcher(db), db, final)
    (request,) = receiver.requests("/status")
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["content-type"] == "application/json"
    assert request.json == queued_row.payload
    assert json.loads(request.body)["id"] == str(nid)
    assert (rows[0].state, rows[0].attempts, rows[0].last_status_code) == ("delivered", 1, 200)


async def test_connection_errors_5xx_429_and_timeouts_are_retried_until_delivered(
    db: Database, receiver: CallbackReceiver
) -> None:
    receiver.script("/status", 500, 429, ("sleep", 1.5), 503)
    sid = add_service(db, receiver.url("/status"))
    enqueue_changes(db, [changed(sid, add_notification(db, sid), "delivered")])
    (row,) = await settle(dispatcher(db, timeout=0.5), db, final, timeout=30)
    assert (row.state, row.attempts, row.last_status_code) == ("delivered", 5, 200)
    assert len(receiver.requests("/status")) == 5
    # A port nobody listens on: a connection error, retried like the rest.
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    other = add_service(db, f"http://127.0.0.1:{port}/nobody")
    enqueue_changes(db, [changed(other, add_notification(db, other), "delivered")])
    rows = await settle(dispatcher(db, delays=(0, 0)), db, final)
    (dead,) = [r for r in rows if r.service_id == other]
    assert (dead.state, dead.attempts, dead.last_status_code) == ("exhausted", 3, None)
    assert dead.last_error == "ConnectError"


async def test_other_4xx_are_never_retried(db: Database, receiver: CallbackReceiver) -> None:
    receiver.script("/status", 400)
    sid = add_service(db, receiver.url("/status"))
    enqueue_changes(db, [changed(sid, add_notification(db, sid), "delivered")])
    (row,) = await settle(dispatcher(db), db, final)
    assert (row.state, row.attempts, row.last_status_code) == ("failed", 1, 400)
    await asyncio.sleep(0.3)
    assert len(receiver.requests("/status")) == 1


async def test_retries_wait_their_delay_and_run_out_then_ops_replay_them(
    db: Database, receiver: CallbackReceiver
) -> None:
    receiver.script("/status", 500, 500, 500)
    sid = add_service(db, receiver.url("/status"))
    enqueue_changes(db, [changed(sid, add_notification(db, sid), "delivered")])
    (row,) = await settle(dispatcher(db, delays=(0.5, 0.5)), db, final)
    assert (row.state, row.attempts, row.last_error) == ("exhausted", 3, "HTTP 500")
    first, second, third = receiver.requests("/status")
    assert second.at - first.at >= 0.45 and third.at - second.at >= 0.45
    assert replay_callbacks(db.engine, service_id=uuid.uuid4()) == 0  # another service's: nothing
    assert replay_callbacks(db.engine, callback_type="complaint") == 0  # another type: nothing
    assert replay_callbacks(db.engine, service_id=sid, callback_type="delivery_status") == 1
    (row,) = await settle(dispatcher(db), db, final)
    assert (row.state, row.attempts) == ("delivered", 1)
    assert len(receiver.requests("/status")) == 4


async def test_a_callback_whose_configuration_was_removed_fails(
    db: Database, receiver: CallbackReceiver
) -> None:
    sid = add_service(db, receiver.url("/status"))
    enqueue_changes(db, [changed(sid, add_notification(db, sid), "delivered")])
    with db.unit_of_work() as conn:
        conn.execute(delete(service_callback_api).where(service_callback_api.c.service_id == sid))
    (row,) = await settle(dispatcher(db), db, final)
    assert row.state == "failed" and "no callback configured" in row.last_error
    assert receiver.requests("/status") == []


async def test_one_slow_endpoint_never_holds_back_another_services_callbacks(
    db: Database, receiver: CallbackReceiver
) -> None:
    receiver.script("/slow", *([("sleep", 3)] * 6))
    slow = add_service(db, receiver.url("/slow"))
    fast = add_service(db, receiver.url("/fast"))
    enqueue_changes(db, [changed(slow, add_notification(db, slow), "delivered") for _ in range(6)])
    enqueue_changes(db, [changed(fast, add_notification(db, fast), "delivered") for _ in range(5)])
    d = dispatcher(db, per_service=2)
    began = time.monotonic()
    while len(receiver.requests("/fast")) < 5:
        await d.dispatch_once()
        await asyncio.sleep(0.02)
        assert time.monotonic() - began < 2.5, "the fast service waited for the slow one"
    assert len(receiver.requests("/slow")) <= 2  # the slow service never had more than its two slots
    await settle(d, db, final, timeout=30)
    assert len(receiver.requests("/slow")) == 6


# --- the SSRF guard -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/x",  # loopback
        "http://10.1.2.3/x",  # private
        "http://169.254.169.254/latest/meta-data",  # link-local (cloud metadata)
        "http://[::1]:9/x",
        "http://[::ffff:192.168.0.1]/x",  # private behind an IPv4-mapped IPv6 address
        "http://0.0.0.0/x",
        "http://localhost:9/x",  # a name that resolves to loopback
        "http://100.64.0.1/x",  # shared address space (carrier-grade NAT, some cluster networks)
        "http://[64:ff9b::a00:1]/x",  # NAT64 form of 10.0.0.1
        "http://[2002:a00:1::1]/x",  # 6to4 carrying 10.0.0.1
    ],
)
async def test_non_public_targets_are_refused_unless_allowed(url: str) -> None:
    poster = CallbackPoster(timeout=1, allowed_networks=(), allow_http=True)
    try:
        with pytest.raises(TargetRefused, match="non-public address"):
            await poster.post(url, TOKEN, {})
    finally:
        await poster.close()


async def test_plain_http_is_refused_unless_allowed_and_allowed_networks_are_reachable(
    receiver: CallbackReceiver,
) -> None:
    strict = CallbackPoster(timeout=1, allowed_networks=LOOPBACK, allow_http=False)
    with pytest.raises(TargetRefused, match="http scheme"):
        await strict.post(receiver.url("/x"), TOKEN, {})
    await strict.close()
    assert await resolve_allowed("localhost", 80, LOOPBACK) in ("127.0.0.1", "::1")
    assert await resolve_allowed("93.184.215.14", 443, ()) == "93.184.215.14"  # a public address
    assert (
        await resolve_allowed("64:ff9b::5db8:d70e", 443, ()) == "64:ff9b::5db8:d70e"
    )  # NAT64 of a public one


async def test_a_refused_target_fails_the_callback_at_send_time_without_a_request(
    db: Database, receiver: CallbackReceiver
) -> None:
    sid = add_service(db, receiver.url("/status"))
    enqueue_changes(db, [changed(sid, add_notification(db, sid), "delivered")])
    (row,) = await settle(dispatcher(db, allowed=()), db, final)
    assert row.state == "failed" and "non-public address (127.0.0.1)" in row.last_error
    assert receiver.requests("/status") == []


async def test_a_delivered_callback_keeps_no_payload_and_an_exhausted_one_keeps_it_for_replay(
    db: Database, receiver: CallbackReceiver
) -> None:
    receiver.script("/gone", 500)
    ok, gone = add_service(db, receiver.url("/ok")), add_service(db, receiver.url("/gone"))
    enqueue_changes(db, [changed(ok, add_notification(db, ok), "delivered")])
    enqueue_changes(db, [changed(gone, add_notification(db, gone), "delivered")])
    rows = {r.service_id: r for r in await settle(dispatcher(db, delays=()), db, final)}
    assert (rows[ok].state, rows[ok].payload) == ("delivered", {})
    assert rows[gone].state == "exhausted" and rows[gone].payload["status"] == "delivered"


async def test_a_redirect_is_not_followed_and_fails_the_callback(
    db: Database, receiver: CallbackReceiver
) -> None:
    receiver.script("/status", 302)
    sid = add_service(db, receiver.url("/status"))
    enqueue_changes(db, [changed(sid, add_notification(db, sid), "delivered")])
    (row,) = await settle(dispatcher(db), db, final)
    assert (row.state, row.attempts, row.last_status_code) == ("failed", 1, 302)
    assert len(receiver.requests("/status")) == 1


async def test_a_url_that_cannot_be_called_fails_once_instead_of_coming_back(db: Database) -> None:
    sid = add_service(db, "https://example.gov.uk:99999/cb")
    enqueue_changes(db, [changed(sid, add_notification(db, sid), "delivered")])
    (row,) = await settle(dispatcher(db), db, final)
    assert (row.state, row.attempts, row.last_error) == ("failed", 1, "refused: the URL's port is not valid")


async def test_two_dispatchers_never_send_the_same_callback_and_share_one_per_service_limit(
    db: Database, receiver: CallbackReceiver
) -> None:
    receiver.script("/status", *([("sleep", 1)] * 12))
    sid = add_service(db, receiver.url("/status"))
    enqueue_changes(db, [changed(sid, add_notification(db, sid), "delivered") for _ in range(12)])
    first, second = dispatcher(db, per_service=3), dispatcher(db, per_service=3)
    claimed = await asyncio.gather(first.dispatch_once(), second.dispatch_once())
    assert sum(claimed) == 3  # the service's three slots, whichever replica took them
    await asyncio.sleep(0.3)
    assert (
        await first.dispatch_once() == 0 and await second.dispatch_once() == 0
    )  # still full while they post
    began = time.monotonic()
    while not final(queued(db)):
        assert time.monotonic() - began < 30
        await asyncio.gather(first.dispatch_once(), second.dispatch_once())
        await asyncio.sleep(0.05)
    await asyncio.gather(first.drain(), second.drain())
    ids = [r.json["id"] for r in receiver.requests("/status")]
    assert len(ids) == 12 and len(set(ids)) == 12  # each sent once
    starts = sorted(r.at for r in receiver.requests("/status"))
    # Never more than three at once: any four consecutive starts span at least one (1 s) answer.
    assert all(starts[i + 3] - starts[i] >= 0.9 for i in range(len(starts) - 3))


async def test_an_outcome_is_recorded_only_by_the_dispatcher_holding_the_lease(
    db: Database, receiver: CallbackReceiver
) -> None:
    sid = add_service(db, receiver.url("/status"))
    enqueue_changes(db, [changed(sid, add_notification(db, sid), "delivered")])
    with db.unit_of_work() as conn:
        (stale,) = queue.claim(conn, limit=10, per_service=4, lease=timedelta(seconds=0))
    with db.unit_of_work() as conn:  # the lease ran out and another dispatcher took it over
        (current,) = queue.claim(conn, limit=10, per_service=4, lease=timedelta(minutes=2))
    with db.unit_of_work() as conn:
        assert not queue.record(conn, stale, state="failed", attempts=1, status_code=400, error="late")
        assert queue.record(conn, current, state="delivered", attempts=1, status_code=200, error=None)
    (row,) = queued(db)
    assert (row.state, row.last_status_code) == ("delivered", 200)


async def test_the_least_recently_used_host_client_is_closed_past_the_limit() -> None:
    poster = CallbackPoster(timeout=1, allowed_networks=(), allow_http=True, max_hosts=2)
    first = poster._client("a.example")  # noqa: SLF001 (the per-host pool is what is tested)
    second = poster._client("b.example")  # noqa: SLF001
    poster._client("a.example")  # noqa: SLF001 (a is now the most recent)
    poster._client("c.example")  # noqa: SLF001 (b goes)
    await asyncio.sleep(0.05)
    assert list(poster._clients) == ["a.example", "c.example"]  # noqa: SLF001
    assert second.is_closed and not first.is_closed and not poster._closing  # noqa: SLF001
    await poster.close()
    assert first.is_closed
