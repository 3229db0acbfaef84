"""SMS provider adapters, exercised over real HTTP against the simulator speaking the same protocol or a stub."""

from __future__ import annotations

import asyncio
import base64
import functools
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import aiohttp
import orjson
import pytest
import pytest_asyncio
import uvicorn
from aiohttp import web
from aiohttp.test_utils import RawTestServer
from fastapi import FastAPI
from multidict import CIMultiDict, CIMultiDictProxy
from notify_delivery_sms.providers import (
    FiretextProvider,
    MmgProvider,
    ProviderError,
    Receipt,
    SmsProvider,
    build_provider,
)
from notify_delivery_sms.providers.base import MAX_CONNECTIONS
from notify_delivery_sms.simulator import SimulatorSettings, create_app
from starlette.datastructures import Headers

USER, PASSWORD = "notify-user", "notify-password-123"
RECEIPT_USER, RECEIPT_PASSWORD = "receipts", "receipt-password-456"
FLAVOURS = ["mmg", "firetext"]


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def sim_settings(flavour: str, **overrides: object) -> SimulatorSettings:
    values: dict[str, object] = {
        "flavour": flavour,
        "username": USER,
        "password": PASSWORD,
        "receipt_username": RECEIPT_USER,
        "receipt_password": RECEIPT_PASSWORD,
        "receipt_delay_ms": 10,
        "receipt_retry_initial_ms": 40,
        "receipt_retry_max_ms": 200,
        "receipt_workers": 4,
        "seed": 7,
    }
    values.update(overrides)
    return SimulatorSettings(**values)  # type: ignore[arg-type]


def provider_for(
    flavour: str, *, base_url: str = "http://sim", password: str = PASSWORD, **kwargs: object
) -> SmsProvider:
    return build_provider(
        flavour,
        base_url=base_url,
        username=USER,
        password=password,
        receipt_username=RECEIPT_USER,
        receipt_password=RECEIPT_PASSWORD,
        **kwargs,  # type: ignore[arg-type]
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Servers:
    """The simulators this module talks to, served by uvicorn over TCP: each started on first use and all stopped
    together at the end of the module (stopping a uvicorn server takes ~0.2 s, too slow to pay once a test)."""

    def __init__(self) -> None:
        self._simulators: dict[str, tuple[FastAPI, str]] = {}
        self._running: list[tuple[uvicorn.Server, asyncio.Task[None], socket.socket]] = []

    async def simulator(
        self, flavour: str, *, uvicorn_config: dict[str, object] | None = None, **overrides: object
    ) -> tuple[FastAPI, str]:
        """(app, base URL) of a simulator with these settings; its bookkeeping is reset for each caller."""
        key = repr((flavour, sorted((uvicorn_config or {}).items()), sorted(overrides.items())))
        if key not in self._simulators:
            app = create_app(sim_settings(flavour, **overrides))
            self._simulators[key] = (app, await self._serve(app, **(uvicorn_config or {})))
        app, url = self._simulators[key]
        app.state.simulator.reset()
        return app, url

    async def _serve(self, app: object, **config: object) -> str:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Without TCP_NODELAY a small response can sit behind a delayed ACK for ~40 ms.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        server = uvicorn.Server(
            uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", **config)  # type: ignore[arg-type]
        )
        task = asyncio.create_task(server.serve(sockets=[sock]))
        self._running.append((server, task, sock))
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        return f"http://127.0.0.1:{port}"

    async def close(self) -> None:
        for server, _, _ in self._running:
            server.should_exit = True
        await asyncio.gather(*(task for _, task, _ in self._running))
        for _, _, sock in self._running:
            sock.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def servers() -> AsyncIterator[Servers]:
    running = Servers()
    try:
        yield running
    finally:
        await running.close()


# Tests using ``servers`` run on the module's event loop, where those servers live.
module_loop = pytest.mark.asyncio(loop_scope="module")


@asynccontextmanager
async def simulated(
    servers: Servers, flavour: str, password: str = PASSWORD, **overrides: object
) -> AsyncIterator[tuple[FastAPI, SmsProvider]]:
    """A simulator over TCP, and an adapter (with its own session, as in production) pointing at it."""
    app, url = await servers.simulator(flavour, **overrides)
    provider = provider_for(flavour, base_url=url, password=password)
    try:
        yield app, provider
    finally:
        await provider.aclose()


@asynccontextmanager
async def stub(handler: Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]) -> AsyncIterator[str]:
    """A stand-in provider answering each request with ``handler`` (aiohttp's test server, on 127.0.0.1)."""
    async with RawTestServer(handler) as server:
        yield str(server.make_url("")).rstrip("/")


@functools.cache
def parser(
    flavour: str, receipt_username: str = RECEIPT_USER, receipt_password: str = RECEIPT_PASSWORD
) -> SmsProvider:
    """An adapter for receipt parsing / credential checks (it never makes a request, so never opens a session)."""
    return build_provider(
        flavour,
        base_url="http://unused",
        username=USER,
        password=PASSWORD,
        receipt_username=receipt_username,
        receipt_password=receipt_password,
    )


async def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


async def send(provider: SmsProvider, notification_id: str, to: str = "+447700900123") -> str:
    return await provider.send(
        to=to,
        content="Your code is 1234",
        sender="GOVUK",
        notification_id=notification_id,
        international=False,
    )


# -- construction and the shared session ---------------------------------------------------------------------


async def test_build_provider_returns_the_adapter_for_each_protocol() -> None:
    mmg, firetext = provider_for("mmg"), provider_for("firetext")
    try:
        assert isinstance(mmg, MmgProvider) and mmg.name == "mmg"
        assert isinstance(firetext, FiretextProvider) and firetext.name == "firetext"
        assert isinstance(mmg, SmsProvider) and isinstance(firetext, SmsProvider)
    finally:
        await mmg.aclose()
        await firetext.aclose()
    with pytest.raises(ValueError, match="unknown SMS provider"):
        provider_for("twilio")


def test_adapters_are_built_without_an_event_loop_and_open_no_session_until_used() -> None:
    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()
    for flavour in FLAVOURS:
        provider = provider_for(flavour)
        assert provider._session is None  # type: ignore[attr-defined]


async def test_each_adapter_makes_one_kept_alive_session_on_first_use_and_closes_only_its_own() -> None:
    peers: set[object] = set()

    async def handler(request: web.BaseRequest) -> web.Response:
        await request.read()
        peers.add(request.transport.get_extra_info("peername") if request.transport else None)
        return web.json_response({"reference": "m-1", "code": 0, "messageId": "f-1"})

    async with stub(handler) as url:
        provider = provider_for("mmg", base_url=url, timeout=3.0)
        assert provider._session is None  # type: ignore[attr-defined]
        for i in range(5):
            assert await send(provider, f"n-{i}") == "m-1"
        session = provider._session  # type: ignore[attr-defined]
        assert isinstance(session, aiohttp.ClientSession)
        assert session.connector is not None and session.connector.limit == MAX_CONNECTIONS >= 200
        assert session.timeout.total == 3.0
        assert len(peers) == 1  # sequential sends reuse one kept-alive connection
        await provider.aclose()
        assert session.closed
        with pytest.raises(ProviderError) as closed:
            await send(provider, "n-late")
        assert closed.value.retryable is True and closed.value.status_code is None

        async with aiohttp.ClientSession() as shared:
            borrowed = provider_for("firetext", base_url=url, http_client=shared)
            assert await send(borrowed, "n-1") == "f-1"
            assert borrowed._session is shared  # type: ignore[attr-defined]
            await borrowed.aclose()
            assert not shared.closed


# -- send and lookup against the simulator ----------------------------------------------------------------


@module_loop
@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_send_returns_the_provider_message_id_and_lookup_finds_it(
    servers: Servers, flavour: str
) -> None:
    async with simulated(servers, flavour) as (app, provider):
        message_id = await send(provider, "11111111-1111-1111-1111-111111111111")
        assert message_id
        assert await provider.lookup("11111111-1111-1111-1111-111111111111") == message_id
        assert await provider.lookup("22222222-2222-2222-2222-222222222222") is None
        stats = app.state.simulator.stats()
        assert stats["total"] == 1
        assert stats["by_reference"] == {"11111111-1111-1111-1111-111111111111": 1}


@module_loop
@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_many_concurrent_sends_share_the_session_and_are_each_counted_once(
    servers: Servers, flavour: str
) -> None:
    async with simulated(servers, flavour) as (app, provider):
        ids = [f"n-{i}" for i in range(100)]
        message_ids = await asyncio.gather(*(send(provider, nid) for nid in ids))
        session = provider._session  # type: ignore[attr-defined]
        assert len(set(message_ids)) == 100
        await send(provider, "n-last")
        assert provider._session is session  # type: ignore[attr-defined]
        stats = app.state.simulator.stats()
        assert stats["total"] == 101 and stats["duplicates"] == []


@module_loop
@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_bad_credentials_are_a_non_retryable_refusal(servers: Servers, flavour: str) -> None:
    async with simulated(servers, flavour, password="wrong-password") as (app, provider):
        with pytest.raises(ProviderError) as refused:
            await send(provider, "n-1")
        assert refused.value.retryable is False and refused.value.status_code == 401
        assert refused.value.provider == flavour
        assert "447700900123" not in str(refused.value) and "1234" not in str(refused.value)
        with pytest.raises(ProviderError) as lookup_refused:
            await provider.lookup("n-1")
        assert lookup_refused.value.retryable is False and lookup_refused.value.status_code == 401
        assert app.state.simulator.total == 0


@module_loop
@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_malformed_request_is_a_non_retryable_refusal(servers: Servers, flavour: str) -> None:
    async with simulated(servers, flavour) as (_, provider):
        with pytest.raises(ProviderError) as refused:
            await send(provider, "n-1", to="not a number")
        assert refused.value.retryable is False and refused.value.status_code == 400


@module_loop
@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_provider_errors_are_retryable(servers: Servers, flavour: str) -> None:
    async with simulated(servers, flavour, error_rate=1.0) as (app, provider):
        with pytest.raises(ProviderError) as failed:
            await send(provider, "n-1")
        assert failed.value.retryable is True and failed.value.status_code == 500
        assert app.state.simulator.total == 0


@module_loop
@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_timeout_is_retryable_and_lookup_then_finds_the_message(servers: Servers, flavour: str) -> None:
    """The crash-between-send-and-record case: the provider accepted the message but the answer never came."""
    app, url = await servers.simulator(flavour, latency_ms=400)
    provider = provider_for(flavour, base_url=url, timeout=0.1)
    try:
        with pytest.raises(ProviderError) as timed_out:
            await send(provider, "slow-1")
        assert timed_out.value.retryable is True and timed_out.value.status_code is None
        assert "timed out" in str(timed_out.value)
        patient = provider_for(flavour, base_url=url, timeout=5.0)
        try:
            assert await patient.lookup("slow-1") is not None
        finally:
            await patient.aclose()
    finally:
        await provider.aclose()
    assert app.state.simulator.stats()["by_reference"] == {"slow-1": 1}


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_connection_refused_is_retryable(flavour: str) -> None:
    provider = provider_for(flavour, base_url=f"http://127.0.0.1:{free_port()}", timeout=2.0)
    try:
        with pytest.raises(ProviderError) as refused:
            await send(provider, "n-1")
        assert refused.value.retryable is True and refused.value.status_code is None
        with pytest.raises(ProviderError) as lookup_refused:
            await provider.lookup("n-1")
        assert lookup_refused.value.retryable is True
    finally:
        await provider.aclose()


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        (429, True),
        (408, True),
        (500, True),
        (502, True),
        (503, True),
        (400, False),
        (403, False),
        (404, False),
        (302, False),
    ],
)
async def test_http_status_classification(flavour: str, status: int, retryable: bool) -> None:
    seen: list[str] = []

    async def handler(request: web.BaseRequest) -> web.Response:
        seen.append(request.method)
        headers = {"Location": "/elsewhere"} if status == 302 else None
        return web.json_response(
            {"Description": "nope", "description": "nope"}, status=status, headers=headers
        )

    async with stub(handler) as url:
        provider = provider_for(flavour, base_url=url)
        try:
            with pytest.raises(ProviderError) as failed:
                await send(provider, "n-1")
            assert failed.value.retryable is retryable and failed.value.status_code == status
            assert seen == ["POST"]  # sent once: no retry, no redirect followed
            if status != 404:  # a 404 lookup means "no such message"
                with pytest.raises(ProviderError) as lookup_failed:
                    await provider.lookup("n-1")
                assert lookup_failed.value.retryable is retryable
                assert lookup_failed.value.status_code == status
        finally:
            await provider.aclose()


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_an_accepted_send_without_a_message_id_is_retryable(flavour: str) -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        return web.Response(text="ok")

    async with stub(handler) as url:
        provider = provider_for(flavour, base_url=url)
        try:
            with pytest.raises(ProviderError) as failed:
                await send(provider, "n-1")
            assert failed.value.retryable is True
            with pytest.raises(ProviderError) as lookup_failed:
                await provider.lookup("n-1")
            assert lookup_failed.value.retryable is True and "malformed" in str(lookup_failed.value)
        finally:
            await provider.aclose()


async def test_firetext_non_zero_code_in_a_200_is_a_refusal() -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        return web.json_response({"code": 5, "description": "Insufficient credit"})

    async with stub(handler) as url:
        provider = provider_for("firetext", base_url=url)
        try:
            with pytest.raises(ProviderError) as failed:
                await send(provider, "n-1")
        finally:
            await provider.aclose()
    assert failed.value.retryable is False and "Insufficient credit" in str(failed.value)


async def test_wire_requests_carry_the_client_reference_and_normalised_number() -> None:
    seen: list[tuple[str, str, CIMultiDictProxy[str], bytes]] = []

    async def handler(request: web.BaseRequest) -> web.Response:
        seen.append((request.method, request.path_qs, request.headers, await request.read()))
        if request.path == "/v1/messages":
            return web.json_response({"reference": "m-1"})
        if request.path.startswith("/messages/by-reference/"):
            return web.json_response({"message_id": "found-1"})
        return web.json_response({"code": 0, "messageId": "f-1"})

    async with stub(handler) as url:
        mmg = provider_for("mmg", base_url=url + "/")
        firetext = provider_for("firetext", base_url=url)
        try:
            assert (
                await mmg.send(
                    to="+44 7700 900123",
                    content="hi",
                    sender="GOVUK",
                    notification_id="n-1",
                    international=False,
                )
                == "m-1"
            )
            assert (
                await firetext.send(
                    to="+1 202 555 0101",
                    content="hi",
                    sender="GOVUK",
                    notification_id="n-2",
                    international=True,
                )
                == "f-1"
            )
            assert await mmg.lookup("n/1 ?") == "found-1"
            assert await firetext.lookup("n-2") == "found-1"
        finally:
            await mmg.aclose()
            await firetext.aclose()

    (mmg_method, mmg_path, mmg_headers, mmg_body), (ft_method, ft_path, ft_headers, ft_body) = seen[:2]
    assert (mmg_method, mmg_path) == ("POST", "/v1/messages")
    assert mmg_headers["Authorization"] == basic(USER, PASSWORD)
    assert mmg_headers["Content-Type"] == "application/json"
    body = orjson.loads(mmg_body)
    assert (
        body["MSISDN"] == "447700900123"
        and body["cid"] == "n-1"
        and body["msg"] == "hi"
        and body["sender"] == "GOVUK"
    )
    assert (ft_method, ft_path) == ("POST", "/api/sendsms/json")
    assert ft_headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert "Authorization" not in ft_headers
    assert dict(parse_qsl(ft_body.decode())) == {
        "apiKey": PASSWORD,
        "from": "GOVUK",
        "to": "12025550101",
        "message": "hi",
        "reference": "n-2",
        "international": "1",
    }
    (_, mmg_lookup, mmg_lookup_headers, _), (_, ft_lookup, ft_lookup_headers, _) = seen[2:]
    assert mmg_lookup == "/messages/by-reference/n%2F1%20%3F"
    assert mmg_lookup_headers["Authorization"] == basic(USER, PASSWORD)
    assert ft_lookup == "/messages/by-reference/n-2"
    assert ft_lookup_headers["X-Api-Key"] == PASSWORD and "Authorization" not in ft_lookup_headers


# -- receipt parsing (behaviour §9 mappings) --------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("3", "delivered"),
        ("4", "temporary-failure"),
        ("2", "permanent-failure"),
        ("5", "permanent-failure"),
        ("1", "technical-failure"),
        ("6", "technical-failure"),
        ("99", "technical-failure"),
        ("abc", "technical-failure"),
        (3, "delivered"),
        (4, "temporary-failure"),
    ],
)
def test_mmg_receipt_status_mapping(status: object, expected: str) -> None:
    provider = parser("mmg")
    body = orjson.dumps({"reference": "mmg-ref", "CID": "n-1", "status": status, "substatus": "1"})
    receipt = provider.parse_receipt(body, "application/json")
    assert receipt == Receipt(
        notification_id="n-1", provider_reference="mmg-ref", status=expected, detail=receipt.detail
    )
    assert receipt.detail and str(status) in receipt.detail


def test_mmg_receipt_may_also_arrive_form_encoded() -> None:
    receipt = parser("mmg").parse_receipt(
        b"reference=r&CID=n-9&status=4", "application/x-www-form-urlencoded; charset=utf-8"
    )
    assert (receipt.notification_id, receipt.provider_reference, receipt.status) == (
        "n-9",
        "r",
        "temporary-failure",
    )


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"[1,2]", b'{"status": "3"}', b'{"CID": "", "status": "3"}', b'{"CID": "n-1"}'],
)
def test_malformed_mmg_receipts_raise_value_error(body: bytes) -> None:
    with pytest.raises(ValueError):
        parser("mmg").parse_receipt(body, "application/json")


FIRETEXT_DECLINED = {
    "101": "permanent-failure",
    "201": "permanent-failure",
    "301": "permanent-failure",
    "401": "permanent-failure",
    "000": "temporary-failure",
    "102": "temporary-failure",
    "103": "temporary-failure",
    "104": "temporary-failure",
    "302": "temporary-failure",
    "900": "temporary-failure",
}


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        ("0", "000", "delivered"),
        ("0", "", "delivered"),
        ("2", "", "pending"),
        *[("1", code, expected) for code, expected in FIRETEXT_DECLINED.items()],
        ("1", "", "permanent-failure"),
        ("1", "555", "technical-failure"),
        ("7", "000", "technical-failure"),
    ],
)
def test_firetext_receipt_status_mapping(status: str, code: str, expected: str) -> None:
    provider = parser("firetext")
    body = urlencode({"reference": "n-1", "messageId": "ft-1", "status": status, "code": code, "time": "x"})
    receipt = provider.parse_receipt(body.encode(), "application/x-www-form-urlencoded")
    assert (receipt.notification_id, receipt.provider_reference, receipt.status) == ("n-1", "ft-1", expected)
    assert receipt.detail


def test_firetext_receipt_without_message_id_or_content_type() -> None:
    receipt = parser("firetext").parse_receipt(b"reference=n-2&status=1&code=102", "")
    assert receipt == Receipt("n-2", None, "temporary-failure", receipt.detail)
    as_json = parser("firetext").parse_receipt(b'{"reference": "n-3", "status": 0}', "application/json")
    assert as_json.status == "delivered"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"", ""),
        (b"status=0", ""),
        (b"reference=n-1", ""),
        (b"reference=n-1&status=", ""),
        (b"\xff\xfe", ""),
        (b"{not json", "application/json"),
    ],
)
def test_malformed_firetext_receipts_raise_value_error(body: bytes, content_type: str) -> None:
    with pytest.raises(ValueError):
        parser("firetext").parse_receipt(body, content_type)


# -- receipt credentials ----------------------------------------------------------------------------------


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_receipt_authorised_checks_the_receipt_credentials(flavour: str) -> None:
    provider = parser(flavour)
    good = basic(RECEIPT_USER, RECEIPT_PASSWORD)
    assert provider.receipt_authorised({"Authorization": good})
    assert provider.receipt_authorised({"authorization": good})
    assert provider.receipt_authorised(Headers(headers={"authorization": good}))
    assert provider.receipt_authorised(CIMultiDictProxy(CIMultiDict({"Authorization": good})))
    for bad in [
        basic(RECEIPT_USER, "wrong"),
        basic("wrong", RECEIPT_PASSWORD),
        basic(USER, PASSWORD),  # the send credentials are not the receipt credentials
        "Bearer " + RECEIPT_PASSWORD,
        "Basic not-base64!",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "",
    ]:
        assert not provider.receipt_authorised({"Authorization": bad}), bad
    assert not provider.receipt_authorised({})


def test_receipts_are_refused_when_no_receipt_credentials_are_configured() -> None:
    provider = parser("mmg", "", "")
    assert not provider.receipt_authorised({"Authorization": basic("", "")})


# -- receipts end to end: simulator → receiver → adapter parsing --------------------------------------------


@module_loop
@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_receipts_posted_by_the_simulator_parse_to_the_expected_statuses(
    servers: Servers, flavour: str
) -> None:
    provider = parser(flavour)
    received: list[Receipt] = []
    refused = 0

    async def receive(request: web.BaseRequest) -> web.Response:
        nonlocal refused
        assert request.method == "POST" and request.path == f"/notifications/sms/{flavour}"
        if not provider.receipt_authorised(request.headers):
            refused += 1
            return web.Response(status=401)
        received.append(provider.parse_receipt(await request.read(), request.headers.get("content-type", "")))
        return web.Response(status=204)

    numbers = {"delivered": "07700900001", "temp": "+447700900003", "perm": "447700900002"}
    async with stub(receive) as url:
        receipt_url = f"{url}/notifications/sms/{flavour}"
        async with simulated(servers, flavour, receipt_url=receipt_url) as (_, sim_provider):
            message_ids = {
                key: await send(sim_provider, f"n-{key}", to=number) for key, number in numbers.items()
            }
            expected_posts = 4 if flavour == "firetext" else 3
            await wait_for(lambda: len(received) == expected_posts)

    assert refused == 0
    statuses: dict[str, list[str]] = {}
    for receipt in received:
        statuses.setdefault(receipt.notification_id, []).append(receipt.status)
        assert receipt.provider_reference == message_ids[receipt.notification_id.removeprefix("n-")]
    assert statuses["n-delivered"] == ["delivered"]
    assert statuses["n-perm"] == ["permanent-failure"]
    assert statuses["n-temp"] == (
        ["pending", "temporary-failure"] if flavour == "firetext" else ["temporary-failure"]
    )


@module_loop
async def test_receipts_with_wrong_credentials_are_refused_by_the_adapter_and_retried_by_the_simulator(
    servers: Servers,
) -> None:
    """The receiver refuses (401) until its expected credentials are fixed; the simulator keeps retrying."""
    expected = {"password": "not-yet"}
    received: list[Receipt] = []

    async def receive(request: web.BaseRequest) -> web.Response:
        checker = parser("mmg", RECEIPT_USER, expected["password"])
        if not checker.receipt_authorised(request.headers):
            return web.Response(status=401)
        received.append(checker.parse_receipt(await request.read(), request.headers.get("content-type", "")))
        return web.Response(status=204)

    async with stub(receive) as url:
        async with simulated(servers, "mmg", receipt_url=f"{url}/notifications/sms/mmg") as (app, provider):
            await send(provider, "n-auth", to="447700900001")
            counters = app.state.simulator.receipts.counters
            await wait_for(lambda: counters.retried >= 2)
            assert received == []
            expected["password"] = RECEIPT_PASSWORD
            await wait_for(lambda: len(received) == 1)
    assert received[0].notification_id == "n-auth" and received[0].status == "delivered"


# -- connection edge cases -------------------------------------------------------------------------------------


@asynccontextmanager
async def raw_server(
    handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
) -> AsyncIterator[str]:
    """A bare TCP server answering with whatever bytes ``handler`` writes (for wire-level edge cases)."""

    async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await handler(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(run, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return await reader.readexactly(length) if length else b""


async def test_a_kept_alive_connection_the_server_closed_while_idle_is_not_reused() -> None:
    connections = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await read_request(reader)
        body = b'{"reference": "m-1"}'
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()  # then close without saying so (a server's idle timeout)

    async with raw_server(handler) as url:
        provider = provider_for("mmg", base_url=url)
        try:
            assert await send(provider, "n-1") == "m-1"
            await asyncio.sleep(0.05)
            assert await send(provider, "n-2") == "m-1"
        finally:
            await provider.aclose()
    assert connections == 2


async def test_a_disconnect_without_response_is_a_retryable_provider_error_and_the_send_is_not_repeated() -> (
    None
):
    requests = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal requests
        await read_request(reader)  # and hang up without answering
        requests += 1

    async with raw_server(handler) as url:
        provider = provider_for("mmg", base_url=url)
        try:
            with pytest.raises(ProviderError) as failed:
                await send(provider, "n-1")
            assert failed.value.retryable is True and failed.value.status_code is None
        finally:
            await provider.aclose()
    assert requests == 1


@pytest.fixture(scope="module")
def tls_certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a certificate")
    directory = tmp_path_factory.mktemp("tls")
    key, cert = directory / "key.pem", directory / "cert.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert)),
            *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    return key, cert


@module_loop
async def test_https_providers_have_their_certificate_checked(
    servers: Servers, tls_certificate: tuple[Path, Path]
) -> None:
    key, cert = tls_certificate
    tls = {"ssl_keyfile": str(key), "ssl_certfile": str(cert)}
    app, url = await servers.simulator("mmg", uvicorn_config=tls)
    https_url = url.replace("http://", "https://")
    untrusting = provider_for("mmg", base_url=https_url)
    try:
        with pytest.raises(ProviderError) as refused:
            await send(untrusting, "n-untrusted")
        assert refused.value.retryable is True and refused.value.status_code is None
    finally:
        await untrusting.aclose()
    trusting = aiohttp.TCPConnector(ssl=ssl.create_default_context(cafile=str(cert)))
    async with aiohttp.ClientSession(connector=trusting) as session:
        provider = provider_for("mmg", base_url=https_url, http_client=session)
        message_id = await send(provider, "n-trusted")
        assert await provider.lookup("n-trusted") == message_id
    assert app.state.simulator.stats()["by_reference"] == {"n-trusted": 1}


# -- metrics --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_each_send_is_counted_by_outcome_and_timed(flavour: str) -> None:
    from prometheus_client import REGISTRY

    def calls(outcome: str) -> float:
        labels = {"provider": flavour, "outcome": outcome}
        return REGISTRY.get_sample_value("notify_provider_calls_total", labels) or 0.0

    def timed() -> float:
        return REGISTRY.get_sample_value("notify_provider_call_seconds_count", {"provider": flavour}) or 0.0

    async def handler(request: web.BaseRequest) -> web.Response:
        await request.read()
        answer = request.headers.get("X-Answer") or (await request.text())
        if "refuse" in answer:
            return web.json_response({"Description": "bad", "description": "bad", "code": 1}, status=400)
        if "busy" in answer:
            return web.json_response({}, status=503)
        if "slow" in answer:
            await asyncio.sleep(2)
        return web.json_response({"reference": "m-1", "code": 0, "messageId": "f-1"})

    before = {outcome: calls(outcome) for outcome in ("ok", "rejected", "error", "timeout")}
    seconds_before = timed()
    async with stub(handler) as url:
        provider = provider_for(flavour, base_url=url, timeout=0.3)
        try:
            assert await send(provider, "n-ok")
            for notification_id, retryable in (("n-refuse", False), ("n-busy", True), ("n-slow", True)):
                with pytest.raises(ProviderError) as failed:
                    await send(provider, notification_id)
                assert failed.value.retryable is retryable
        finally:
            await provider.aclose()
    assert {outcome: calls(outcome) - before[outcome] for outcome in before} == {
        "ok": 1,
        "rejected": 1,
        "error": 1,
        "timeout": 1,
    }
    assert timed() - seconds_before == 4
