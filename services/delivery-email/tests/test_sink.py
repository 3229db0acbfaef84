"""The SMTP sink: counts by notification id, and POSTs ordered SES-like receipts with a bearer token, retried."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import httpx
import orjson
import pytest
from aiohttp import web
from notify_delivery_email.sink.app import SinkHandler, SinkState, create_app, outcome_for, start_smtp
from notify_delivery_email.sink.settings import SinkSettings


class Receiver:
    """A receipt endpoint that can refuse the first ``fail_first`` POSTs."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.auth: list[str | None] = []
        self.fail_first = 0
        self.peers: set[Any] = set()  # the client connections the POSTs came over

    async def handle(self, request: web.Request) -> web.Response:
        assert request.transport is not None
        self.peers.add(request.transport.get_extra_info("peername"))
        if self.fail_first > 0:
            self.fail_first -= 1
            return web.Response(status=503)
        self.auth.append(request.headers.get("Authorization"))
        self.bodies.append(orjson.loads(await request.read()))
        return web.json_response({"result": "success"})


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    rec = Receiver()
    app = web.Application()
    app.router.add_post("/receipts", rec.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield rec, f"http://127.0.0.1:{port}/receipts"
    finally:
        await runner.cleanup()


@pytest.fixture
async def sink(receiver: tuple[Receiver, str]) -> AsyncIterator[tuple[SinkState, int]]:
    settings = SinkSettings(
        receipt_url=receiver[1],
        receipt_token="t0ken",
        receipt_delay_ms=0,
        receipt_retry_initial_ms=10,
        receipt_workers=2,
    )
    state = SinkState(settings)
    server = await start_smtp(SinkHandler(state), "127.0.0.1", 0)
    try:
        yield state, server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()
        await state.receipts.aclose()


async def _send(port: int, to: str, notification_id: str) -> None:
    message = EmailMessage()
    message["From"] = "service@notifications.service.gov.uk"
    message["To"] = to
    message["Subject"] = "Hi"
    # A long domain: the header is folded onto its own line.
    message["Message-ID"] = f"<{notification_id}@notifications.service.gov.uk>"
    message.set_content("text")
    message.add_alternative("<p>html</p>", subtype="html")
    await aiosmtplib.send(message, hostname="127.0.0.1", port=port, timeout=5)


async def _until(check: Any, timeout: float = 5) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check() and asyncio.get_running_loop().time() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.02)


def test_outcomes_follow_the_local_part() -> None:
    assert outcome_for("perm-fail@example.com") == "permanent-bounce"
    assert outcome_for("temp-fail@example.com") == "temporary-bounce"
    assert outcome_for("complaint@example.com") == "complaint"
    assert outcome_for("someone@example.com") == "delivered"


async def test_receipts_for_each_outcome_in_order_with_the_bearer_token(sink: Any, receiver: Any) -> None:
    state, port = sink
    rec, _ = receiver
    ids = {
        to: str(uuid.uuid4())
        for to in ("perm-fail@x.example", "temp-fail@x.example", "complaint@x.example", "a@x.example")
    }
    for to, nid in ids.items():
        await _send(port, to, nid)
    await _until(lambda: state.receipts.counters.sent == 5)
    assert set(rec.auth) == {"Bearer t0ken"}
    by_id: dict[str, list[Any]] = {}
    for body in rec.bodies:
        by_id.setdefault(body["mail"]["messageId"], []).append(
            (body["notificationType"], body.get("bounce", {}).get("bounceType"))
        )
    mid = {to: f"<{nid}@notifications.service.gov.uk>" for to, nid in ids.items()}
    assert by_id[mid["perm-fail@x.example"]] == [("Bounce", "Permanent")]
    assert by_id[mid["temp-fail@x.example"]] == [("Bounce", "Transient")]
    assert by_id[mid["complaint@x.example"]] == [("Delivery", None), ("Complaint", None)]
    assert by_id[mid["a@x.example"]] == [("Delivery", None)]
    # No addresses in the receipts.
    assert "x.example" not in orjson.dumps(rec.bodies).decode().replace("notifications.service.gov.uk", "")
    stats = state.stats()
    assert stats["total"] == 4
    assert stats["by_reference"] == {nid: 1 for nid in ids.values()}
    assert stats["duplicates"] == []
    assert stats["receipts"]["sent"] == 5 and stats["receipts"]["outstanding"] == 0


async def test_the_same_message_id_twice_is_a_duplicate(sink: Any, receiver: Any) -> None:
    state, port = sink
    nid = str(uuid.uuid4())
    await _send(port, "a@x.example", nid)
    await _send(port, "a@x.example", nid)
    assert state.stats()["by_reference"] == {nid: 2}
    assert state.stats()["duplicates"] == [nid]


async def test_failed_receipt_posts_are_retried(sink: Any, receiver: Any) -> None:
    state, port = sink
    rec, _ = receiver
    rec.fail_first = 3
    await _send(port, "a@x.example", str(uuid.uuid4()))
    await _until(lambda: state.receipts.counters.sent == 1)
    assert len(rec.bodies) == 1
    assert state.receipts.counters.retried == 3


async def test_http_stats_health_and_messages() -> None:
    app = create_app(SinkSettings())
    state: SinkState = app.state.sink
    nid = str(uuid.uuid4())
    message = EmailMessage()
    message["Message-ID"] = f"<{nid}@notifications.service.gov.uk>"
    message.set_content("plain words")
    message.add_alternative("<p>html words</p>", subtype="html")
    assert state.receive(["a@x.example"], message.as_bytes()).startswith("250")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sink") as client:
        assert (await client.get("/health")).json()["status"] == "ok"
        stats = (await client.get("/stats")).json()
        assert stats["by_reference"] == {nid: 1} and stats["duplicates"] == []
        view = (await client.get(f"/messages/{nid}")).json()
        assert view["content_type"] == "multipart/alternative"
        assert "html words" in view["parts"]["text/html"] and "plain words" in view["parts"]["text/plain"]
        assert (await client.get("/messages/nope")).status_code == 404
        assert (await client.delete("/stats")).json()["total"] == 0
        assert (await client.get("/stats")).json()["by_reference"] == {}


async def test_smtp_level_refusals_are_answered_and_counted_apart_from_messages(
    sink: Any, receiver: Any
) -> None:
    state, port = sink
    busy, down, rejected = (str(uuid.uuid4()) for _ in range(3))
    for attempt in range(2):
        with pytest.raises(aiosmtplib.SMTPDataError) as refused:
            await _send(port, "smtp-busy-2@x.example", busy)
        assert refused.value.code == 451, attempt
    await _send(port, "smtp-busy-2@x.example", busy)  # the third attempt is accepted
    for _ in range(3):
        with pytest.raises(aiosmtplib.SMTPDataError) as refused:
            await _send(port, "smtp-down@x.example", down)
        assert refused.value.code == 451
    with pytest.raises(aiosmtplib.SMTPDataError) as refused:
        await _send(port, "smtp-reject@x.example", rejected)
    assert refused.value.code == 554
    stats = state.stats()
    assert stats["by_reference"] == {busy: 1}
    assert stats["refused_by_reference"] == {busy: 2, down: 3, rejected: 1}


async def test_receipts_travel_over_a_few_kept_alive_connections(sink: Any, receiver: Any) -> None:
    state, port = sink
    rec, _ = receiver
    ids = [str(uuid.uuid4()) for _ in range(40)]
    await asyncio.gather(*(_send(port, "a@x.example", nid) for nid in ids))
    await _until(lambda: state.receipts.counters.sent == 40)
    assert sorted(b["mail"]["messageId"] for b in rec.bodies) == sorted(
        f"<{nid}@notifications.service.gov.uk>" for nid in ids
    )
    assert 1 <= len(rec.peers) <= 2  # receipt_workers


async def test_no_address_is_logged(sink: Any, caplog: pytest.LogCaptureFixture) -> None:
    state, port = sink
    caplog.set_level(logging.DEBUG)
    await _send(port, "someone@x.example", str(uuid.uuid4()))
    with pytest.raises(aiosmtplib.SMTPDataError):
        await _send(port, "smtp-reject@x.example", str(uuid.uuid4()))
    assert state.total == 1
    assert "x.example" not in caplog.text
