"""The SMS provider simulator: the wire protocol it accepts, its bookkeeping, and receipt delivery (with retries)."""

from __future__ import annotations

import asyncio
import base64
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode

import httpx
import orjson
import pytest
import uvicorn
from fastapi import FastAPI, Request, Response
from notify_delivery_sms.simulator import SimulatorSettings, create_app, outcome_for
from notify_delivery_sms.simulator.cli import parse_args, settings_from
from structlog.testing import capture_logs

USER, PASSWORD = "sim-user", "sim-password-123"
RECEIPT_USER, RECEIPT_PASSWORD = "receipt-user", "receipt-password-456"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def sim_settings(**overrides: object) -> SimulatorSettings:
    values: dict[str, object] = {
        "flavour": "mmg",
        "username": USER,
        "password": PASSWORD,
        "receipt_username": RECEIPT_USER,
        "receipt_password": RECEIPT_PASSWORD,
        "receipt_delay_ms": 10,
        "receipt_retry_initial_ms": 40,
        "receipt_retry_max_ms": 200,
        "receipt_workers": 4,
        "seed": 1,
    }
    values.update(overrides)
    return SimulatorSettings(**values)  # type: ignore[arg-type]


@asynccontextmanager
async def simulator(settings: SimulatorSettings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The simulator in-process (lifespan run, so its receipt workers start and stop), with a client for it."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim") as client:
            yield app, client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@asynccontextmanager
async def serve(app: object, port: int | None = None) -> AsyncIterator[str]:
    """A real uvicorn server for ``app`` on 127.0.0.1 (a free port unless one is given)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Without TCP_NODELAY a small response can sit behind a delayed ACK for ~40 ms.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", port or 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@dataclass
class Receiver:
    """A stand-in for delivery-sms's receipt route: records every POST, can be told to fail the first few."""

    fail_first: int = 0
    fail_status: int = 503
    posts: list[tuple[str, bytes, str]] = field(default_factory=list)  # (content type, body, authorization)
    attempts: int = 0
    connections: set[object] = field(default_factory=set)  # client (host, port) of every POST

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/notifications/sms/{provider}")
        async def receive(provider: str, request: Request) -> Response:
            self.attempts += 1
            self.connections.add(tuple(request.client) if request.client else None)
            if self.attempts <= self.fail_first:
                return Response(status_code=self.fail_status)
            self.posts.append(
                (
                    request.headers.get("content-type", ""),
                    await request.body(),
                    request.headers.get("authorization", ""),
                )
            )
            return Response(status_code=204)

        return app


async def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


def mmg_body(msisdn: str = "447700900123", cid: str = "ref-1", msg: str = "Hello") -> bytes:
    return orjson.dumps({"reqType": "BULK", "MSISDN": msisdn, "msg": msg, "sender": "GOVUK", "cid": cid})


def firetext_body(to: str = "447700900123", reference: str = "ref-1", api_key: str = PASSWORD) -> str:
    return urlencode(
        {"apiKey": api_key, "from": "GOVUK", "to": to, "message": "Hello", "reference": reference}
    )


async def mmg_send(client: httpx.AsyncClient, body: bytes, auth: str | None = None) -> httpx.Response:
    headers = {"Content-Type": "application/json", "Authorization": auth or basic(USER, PASSWORD)}
    return await client.post("/v1/messages", content=body, headers=headers)


async def firetext_send(client: httpx.AsyncClient, body: str) -> httpx.Response:
    return await client.post(
        "/api/sendsms/json", content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )


# -- sends, counting, lookup --------------------------------------------------------------------------------


async def test_mmg_send_is_counted_and_can_be_looked_up_by_reference() -> None:
    async with simulator(sim_settings()) as (_, client):
        first = await mmg_send(client, mmg_body(cid="n-1"))
        assert first.status_code == 200
        message_id = first.json()["reference"]
        assert message_id and first.json()["cid"] == "n-1"
        again = await mmg_send(client, mmg_body(cid="n-1"))
        assert again.status_code == 200 and again.json()["reference"] != message_id
        assert (await mmg_send(client, mmg_body(cid="n-2"))).status_code == 200

        stats = (await client.get("/stats")).json()
        assert stats["total"] == 3
        assert stats["by_reference"] == {"n-1": 2, "n-2": 1}
        assert stats["duplicates"] == ["n-1"]

        auth = {"Authorization": basic(USER, PASSWORD)}
        found = await client.get("/messages/by-reference/n-1", headers=auth)
        assert found.status_code == 200
        assert found.json() == {"reference": "n-1", "message_id": message_id, "sends": 2}
        assert (await client.get("/messages/by-reference/unknown", headers=auth)).status_code == 404
        assert (await client.get("/messages/by-reference/n-1")).status_code == 401

        assert (await client.delete("/stats")).status_code == 200
        assert (await client.get("/stats")).json()["total"] == 0
        assert (await client.get("/stats")).json()["by_reference"] == {}
        assert (await client.get("/messages/by-reference/n-1", headers=auth)).status_code == 404
        health = await client.get("/health")
        assert health.status_code == 200 and health.json()["flavour"] == "mmg"


async def test_firetext_send_is_counted_and_can_be_looked_up_with_the_api_key() -> None:
    async with simulator(sim_settings(flavour="firetext")) as (_, client):
        response = await firetext_send(client, firetext_body(reference="f-1"))
        assert response.status_code == 200
        body = response.json()
        assert body["code"] == 0 and body["messageId"]
        lookup = await client.get("/messages/by-reference/f-1", headers={"X-Api-Key": PASSWORD})
        assert lookup.status_code == 200 and lookup.json()["message_id"] == body["messageId"]
        assert (
            await client.get("/messages/by-reference/f-1", headers={"X-Api-Key": "nope"})
        ).status_code == 401
        assert (await client.get("/stats")).json()["by_reference"] == {"f-1": 1}
        # The other protocol's endpoint does not exist on this flavour.
        assert (await mmg_send(client, mmg_body())).status_code == 404


@pytest.mark.parametrize(
    "auth",
    [None, basic(USER, "wrong"), basic("someone", PASSWORD), "Bearer abc", "Basic !!!notbase64"],
)
async def test_mmg_refuses_bad_credentials_with_401_and_does_not_count(auth: str | None) -> None:
    async with simulator(sim_settings()) as (_, client):
        headers = {"Content-Type": "application/json"}
        if auth:
            headers["Authorization"] = auth
        response = await client.post("/v1/messages", content=mmg_body(), headers=headers)
        assert response.status_code == 401
        stats = (await client.get("/stats")).json()
        assert stats["total"] == 0 and stats["refused"]["unauthorised"] == 1


async def test_firetext_refuses_a_wrong_api_key_with_401() -> None:
    async with simulator(sim_settings(flavour="firetext")) as (_, client):
        response = await firetext_send(client, firetext_body(api_key="wrong"))
        assert response.status_code == 401 and response.json()["code"] == 1
        missing = await firetext_send(
            client, urlencode({"to": "447700900123", "message": "x", "reference": "r"})
        )
        assert missing.status_code == 401
        assert (await client.get("/stats")).json()["total"] == 0


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        mmg_body(msisdn="not-a-number"),
        mmg_body(msisdn="123"),
        mmg_body(cid=""),
        mmg_body(msg=""),
        orjson.dumps({"MSISDN": "447700900123", "msg": "hi"}),
    ],
)
async def test_mmg_refuses_malformed_sends_with_400(body: bytes) -> None:
    async with simulator(sim_settings()) as (_, client):
        response = await mmg_send(client, body)
        assert response.status_code == 400
        assert (await client.get("/stats")).json()["total"] == 0


@pytest.mark.parametrize(
    "body",
    [
        "",
        firetext_body(to="abc"),
        firetext_body(reference=""),
        urlencode({"apiKey": PASSWORD, "to": "447700900123", "reference": "r"}),
    ],
)
async def test_firetext_refuses_malformed_sends_with_400(body: str) -> None:
    async with simulator(sim_settings(flavour="firetext")) as (_, client):
        response = await firetext_send(client, body)
        assert response.status_code == 400 and response.json()["code"] == 2
        assert (await client.get("/stats")).json()["total"] == 0


async def test_send_endpoint_refuses_other_methods_and_oversized_bodies() -> None:
    async with simulator(sim_settings()) as (_, client):
        assert (await client.get("/v1/messages")).status_code == 405
        assert (await mmg_send(client, b"x" * (65 * 1024))).status_code == 413


async def test_error_rate_one_answers_500_and_does_not_count() -> None:
    async with simulator(sim_settings(error_rate=1.0)) as (_, client):
        for i in range(5):
            assert (await mmg_send(client, mmg_body(cid=f"e-{i}"))).status_code == 500
        stats = (await client.get("/stats")).json()
        assert stats["total"] == 0 and stats["refused"]["injected_errors"] == 5


async def test_error_injection_and_latency_can_be_changed_while_running() -> None:
    async with simulator(sim_settings(flavour="firetext")) as (app, client):
        assert (await client.get("/control")).json() == {
            "error_rate": 0.0,
            "latency_ms": 0,
            "receipt_delay_ms": 10,
        }
        assert (await firetext_send(client, firetext_body(reference="before"))).status_code == 200
        changed = await client.put("/control", json={"error_rate": 1.0, "receipt_delay_ms": 250})
        assert changed.json() == {"error_rate": 1.0, "latency_ms": 0, "receipt_delay_ms": 250}
        assert (await firetext_send(client, firetext_body(reference="during"))).status_code == 500
        await client.put("/control", json={"error_rate": 0})
        assert (await firetext_send(client, firetext_body(reference="after"))).status_code == 200
        stats = (await client.get("/stats")).json()
        assert sorted(stats["by_reference"]) == ["after", "before"]
        assert stats["refused"]["injected_errors"] == 1
        assert app.state.simulator.receipts.delay_ms == 250


@pytest.mark.parametrize("payload", [{"error_rate": 1.5}, {"latency_ms": -1}, {"colour": "red"}, [1]])
async def test_invalid_control_changes_are_refused_and_change_nothing(payload: object) -> None:
    async with simulator(sim_settings()) as (_, client):
        assert (await client.put("/control", json=payload)).status_code == 400
        assert (await client.get("/control")).json()["error_rate"] == 0.0


async def test_error_rate_is_a_fraction_and_repeatable_with_a_seed() -> None:
    async def statuses() -> list[int]:
        async with simulator(sim_settings(error_rate=0.3, seed=42)) as (_, client):
            return [(await mmg_send(client, mmg_body(cid=f"s-{i}"))).status_code for i in range(200)]

    first, second = await statuses(), await statuses()
    assert first == second
    assert set(first) == {200, 500}
    assert 30 <= first.count(500) <= 90


def test_outcome_is_chosen_by_the_end_of_the_number() -> None:
    assert outcome_for("447700900003") == "temporary-failure"
    assert outcome_for("447700900002") == "permanent-failure"
    assert outcome_for("447700900001") == "delivered"
    assert outcome_for("447700900123") == "delivered"
    assert outcome_for("17700900003") == "temporary-failure"


# -- receipts ---------------------------------------------------------------------------------------------


async def test_mmg_receipts_are_posted_with_credentials_and_codes_by_recipient() -> None:
    receiver = Receiver()
    async with serve(receiver.app()) as url:
        settings = sim_settings(receipt_url=f"{url}/notifications/sms/mmg")
        async with simulator(settings) as (_, client):
            numbers = {"d": "447700900001", "t": "447700900003", "p": "+447700900002"}
            ids = {}
            for key, number in numbers.items():
                ids[key] = (await mmg_send(client, mmg_body(msisdn=number, cid=f"ref-{key}"))).json()[
                    "reference"
                ]
            await wait_for(lambda: len(receiver.posts) == 3)

    by_cid = {}
    for content_type, body, authorization in receiver.posts:
        assert content_type == "application/json"
        assert authorization == basic(RECEIPT_USER, RECEIPT_PASSWORD)
        data = orjson.loads(body)
        by_cid[data["CID"]] = data
        assert "447700" not in body.decode()  # receipts carry no phone number
    assert {cid: d["status"] for cid, d in by_cid.items()} == {"ref-d": "3", "ref-t": "4", "ref-p": "5"}
    assert {cid: d["reference"] for cid, d in by_cid.items()} == {f"ref-{k}": v for k, v in ids.items()}


async def test_firetext_receipts_pass_through_pending_before_a_temporary_failure() -> None:
    receiver = Receiver()
    async with serve(receiver.app()) as url:
        settings = sim_settings(flavour="firetext", receipt_url=f"{url}/notifications/sms/firetext")
        async with simulator(settings) as (_, client):
            for key, number in {"d": "447700900001", "t": "447700900003", "p": "447700900002"}.items():
                assert (
                    await firetext_send(client, firetext_body(to=number, reference=f"ref-{key}"))
                ).status_code == 200
            await wait_for(lambda: len(receiver.posts) == 4)

    receipts = []
    for content_type, body, authorization in receiver.posts:
        assert content_type == "application/x-www-form-urlencoded"
        assert authorization == basic(RECEIPT_USER, RECEIPT_PASSWORD)
        receipts.append(dict(parse_qsl(body.decode(), keep_blank_values=True)))
    by_ref: dict[str, list[tuple[str, str]]] = {}
    for r in receipts:
        assert r["messageId"]
        by_ref.setdefault(r["reference"], []).append((r["status"], r["code"]))
    assert by_ref == {
        "ref-d": [("0", "000")],
        "ref-p": [("1", "101")],
        "ref-t": [("2", ""), ("1", "102")],  # pending strictly before the final receipt
    }


async def test_firetext_pending_step_can_be_switched_off() -> None:
    receiver = Receiver()
    async with serve(receiver.app()) as url:
        settings = sim_settings(
            flavour="firetext", receipt_url=url + "/notifications/sms/firetext", firetext_pending=False
        )
        async with simulator(settings) as (_, client):
            await firetext_send(client, firetext_body(to="447700900003", reference="t"))
            await wait_for(lambda: len(receiver.posts) == 1)
            await asyncio.sleep(0.1)
    assert len(receiver.posts) == 1
    assert dict(parse_qsl(receiver.posts[0][1].decode()))["status"] == "1"


async def test_receipt_is_retried_after_the_receiver_answers_non_2xx() -> None:
    receiver = Receiver(fail_first=3, fail_status=500)
    async with serve(receiver.app()) as url:
        async with simulator(sim_settings(receipt_url=url + "/notifications/sms/mmg")) as (app, client):
            await mmg_send(client, mmg_body(cid="retry-me"))
            counters = app.state.simulator.receipts.counters
            await wait_for(lambda: counters.sent == 1)  # the POST has been answered, not just received
            assert counters.retried == 3 and counters.outstanding == 0 and len(receiver.posts) == 1
    assert receiver.attempts == 4
    assert orjson.loads(receiver.posts[0][1])["CID"] == "retry-me"


async def test_receipt_survives_the_receiver_being_down_then_coming_up() -> None:
    port = free_port()
    receiver = Receiver()
    settings = sim_settings(receipt_url=f"http://127.0.0.1:{port}/notifications/sms/mmg")
    async with simulator(settings) as (app, client):
        await mmg_send(client, mmg_body(cid="while-down"))
        counters = app.state.simulator.receipts.counters
        await wait_for(lambda: counters.retried >= 2)  # connection refused, retried with backoff
        assert counters.sent == 0
        async with serve(receiver.app(), port=port):
            await wait_for(lambda: counters.sent == 1)
        assert len(receiver.posts) == 1 and counters.abandoned == 0
    assert orjson.loads(receiver.posts[0][1])["CID"] == "while-down"


async def test_receipt_is_abandoned_after_the_retry_window_and_logged_without_personal_data() -> None:
    receiver = Receiver(fail_first=10_000)
    async with serve(receiver.app()) as url:
        settings = sim_settings(receipt_url=url + "/notifications/sms/mmg", receipt_retry_for_seconds=0.2)
        with capture_logs() as logs:
            async with simulator(settings) as (app, client):
                await mmg_send(client, mmg_body(msisdn="447700900987", cid="give-up", msg="secret text"))
                counters = app.state.simulator.receipts.counters
                await wait_for(lambda: counters.abandoned == 1)
                assert counters.outstanding == 0 and counters.sent == 0
    assert receiver.attempts >= 2
    events = {entry["event"] for entry in logs}
    assert {"sms_receipt_post_failed", "sms_receipt_abandoned"} <= events
    flat = repr(logs)
    assert "447700900987" not in flat and "secret text" not in flat
    assert any(entry.get("notification_id") == "give-up" for entry in logs)


async def test_receipts_use_a_fixed_pool_of_workers_not_a_task_per_message() -> None:
    receiver = Receiver()
    async with serve(receiver.app()) as url:
        settings = sim_settings(
            receipt_url=url + "/notifications/sms/mmg", receipt_workers=3, receipt_delay_ms=50
        )
        async with simulator(settings) as (app, client):
            baseline = len(asyncio.all_tasks())
            for i in range(150):
                await mmg_send(client, mmg_body(cid=f"many-{i}"))
            assert len(asyncio.all_tasks()) <= baseline + 1
            counters = app.state.simulator.receipts.counters
            await wait_for(lambda: counters.sent == 150, timeout=8)
            assert len(asyncio.all_tasks()) <= baseline + 1
            assert len(receiver.posts) == 150 and counters.outstanding == 0
    assert len({orjson.loads(body)["CID"] for _, body, _ in receiver.posts}) == 150
    # One shared session, kept-alive connections: at most one per worker, never one per receipt.
    assert 1 <= len(receiver.connections) <= 3


async def test_no_receipts_without_a_receipt_url() -> None:
    async with simulator(sim_settings(receipt_url=None)) as (app, client):
        assert (await mmg_send(client, mmg_body())).status_code == 200
        assert app.state.simulator.receipts.counters.scheduled == 0


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/receipts", "/notifications/sms/mmg", "http:///no-host"])
async def test_a_receipt_url_that_is_not_absolute_http_stops_the_simulator_starting(url: str) -> None:
    with pytest.raises(ValueError, match="receipt URL"):
        async with simulator(sim_settings(receipt_url=url)):
            pass


# -- settings and entry point -----------------------------------------------------------------------------


def test_settings_come_from_sms_sim_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMS_SIM_FLAVOUR", "firetext")
    monkeypatch.setenv("SMS_SIM_PORT", "6022")
    monkeypatch.setenv("SMS_SIM_RECEIPT_URL", "http://127.0.0.1:6014/notifications/sms/firetext")
    monkeypatch.setenv("SMS_SIM_ERROR_RATE", "0.25")
    monkeypatch.setenv("SMS_SIM_RECEIPT_DELAY_MS", "50")
    settings = SimulatorSettings()
    assert settings.flavour == "firetext" and settings.port == 6022 and settings.error_rate == 0.25
    assert settings.receipt_delay_ms == 50 and settings.latency_ms == 0
    # Command-line flags win over the environment.
    overridden = settings_from(parse_args(["--flavour", "mmg", "--port", "7000"]))
    assert overridden.flavour == "mmg" and overridden.port == 7000 and overridden.error_rate == 0.25
    monkeypatch.setenv("SMS_SIM_ERROR_RATE", "1.5")
    with pytest.raises(ValueError):
        SimulatorSettings()


def test_defaults() -> None:
    settings = SimulatorSettings()
    assert settings.receipt_delay_ms == 200 and settings.latency_ms == 0 and settings.error_rate == 0.0
    assert settings.receipt_retry_for_seconds >= 120


def test_main_runs_uvicorn_with_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    import notify_platform.logging
    from notify_delivery_sms.simulator import __main__ as module_entry
    from notify_delivery_sms.simulator import cli

    calls: dict[str, object] = {}
    monkeypatch.setattr(
        notify_platform.logging, "configure", lambda service, level: calls.update(service=service)
    )
    monkeypatch.setattr(cli.uvicorn, "run", lambda app, **kwargs: calls.update(app=app, **kwargs))
    monkeypatch.setenv("SMS_SIM_RECEIPT_URL", "http://127.0.0.1:6014/notifications/sms/firetext")
    cli.main(["--flavour", "firetext", "--port", "6022"])
    assert calls["service"] == "sms-simulator-firetext"
    assert calls["port"] == 6022 and calls["host"] == "127.0.0.1" and calls["access_log"] is False
    app = calls["app"]
    assert isinstance(app, FastAPI) and app.state.simulator.settings.flavour == "firetext"
    assert app.state.simulator.settings.receipt_url.endswith("/firetext")
    assert module_entry.main is cli.main
