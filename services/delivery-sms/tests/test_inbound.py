"""Received texts: each provider's format parsed, its receipt credentials required, malformed reports refused with
what is wrong, and every valid report announced once as ``sms.received`` through the outbox with an id that a
retried report repeats. The simulators' ``POST /inbound`` speaks the same formats to the real route."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson
import pytest
from fastapi import FastAPI
from notify_contracts import SmsReceivedV1, decode
from notify_delivery_sms.adapters.tables import metadata, outbox
from notify_delivery_sms.entrypoints import inbound as route
from notify_delivery_sms.providers import build_provider
from notify_delivery_sms.providers.base import InboundText
from notify_delivery_sms.simulator.app import create_app as create_simulator
from notify_delivery_sms.simulator.app import inbound_report
from notify_delivery_sms.simulator.settings import SimulatorSettings
from notify_platform.db import Database
from notify_tools.testing import Infra, scratch_database
from sqlalchemy import select
from structlog.testing import capture_logs

from .test_simulator import serve

USER, PASSWORD = "inbound-user", "inbound-password-123"
SOURCE, DESTINATION, MESSAGE = "447700900123", "447700900456", "Yes please, 100% & more + ünïcode"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def provider(name: str) -> Any:
    return build_provider(
        name,
        base_url="http://provider.invalid",
        username="u",
        password="p",
        receipt_username=USER,
        receipt_password=PASSWORD,
    )


def mmg_report(**overrides: Any) -> dict[str, Any]:
    return {
        "ID": "mmg-123",
        "MSISDN": SOURCE,
        "Number": DESTINATION,
        "Message": "Yes+please%2C+100%25+%26+more+%2B+%C3%BCn%C3%AFcode",
        "DateRecieved": "2026-07-01+12%3A30%3A05",
        "Channel": "SMS",
        **overrides,
    }


def firetext_report(**overrides: Any) -> dict[str, str]:
    return {
        "source": SOURCE,
        "destination": DESTINATION,
        "message": MESSAGE,
        "time": "2026-01-15 09:00:00",
        **overrides,
    }


# -- parsing ---------------------------------------------------------------------------------------------------


def test_mmg_inbound_is_url_decoded_and_its_uk_time_made_utc() -> None:
    text = provider("mmg").parse_inbound(orjson.dumps(mmg_report()), "application/json")
    assert text == InboundText(
        provider_reference="mmg-123",
        source_number=SOURCE,
        destination_number=DESTINATION,
        message=MESSAGE,
        received_at=datetime(2026, 7, 1, 11, 30, 5, tzinfo=UTC),  # British Summer Time
    )
    no_date = mmg_report()
    del no_date["DateRecieved"]
    assert provider("mmg").parse_inbound(orjson.dumps(no_date), "").received_at is None


def test_firetext_inbound_is_a_form_with_uk_time_and_no_message_id() -> None:
    body = urlencode(firetext_report()).encode()
    text = provider("firetext").parse_inbound(body, "application/x-www-form-urlencoded")
    assert text == InboundText(
        provider_reference=None,
        source_number=SOURCE,
        destination_number=DESTINATION,
        message=MESSAGE,
        received_at=datetime(2026, 1, 15, 9, 0, 0, tzinfo=UTC),  # GMT
    )


@pytest.mark.parametrize(
    ("name", "body", "content_type", "message"),
    [
        ("mmg", b"{not json", "application/json", "mmg inbound text body is not valid JSON"),
        ("mmg", b"[1, 2]", "application/json", "mmg inbound text body is not a JSON object"),
        ("mmg", orjson.dumps(mmg_report(MSISDN="")), "", "mmg inbound text has no MSISDN"),
        ("mmg", orjson.dumps({**mmg_report(), "Number": None}), "", "mmg inbound text has no Number"),
        ("mmg", orjson.dumps(mmg_report(ID=" ")), "", "mmg inbound text has no ID"),
        (
            "mmg",
            orjson.dumps(mmg_report(DateRecieved="yesterday")),
            "",
            "mmg inbound text DateRecieved is not YYYY-MM-DD HH:MM:SS",
        ),
        (
            "firetext",
            b"source=1&destination=2&time=2026-01-01 00:00:00",
            "",
            "firetext inbound text has no message",
        ),
        (
            "firetext",
            urlencode(firetext_report(source="")).encode(),
            "",
            "firetext inbound text has no source",
        ),
        ("firetext", b"\xff\xfe", "", "firetext inbound text body is not UTF-8"),
        (
            "firetext",
            urlencode(firetext_report(time="01/01/2026")).encode(),
            "",
            "firetext inbound text time is not YYYY-MM-DD HH:MM:SS",
        ),
    ],
)
def test_malformed_reports_say_what_is_wrong(name: str, body: bytes, content_type: str, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        provider(name).parse_inbound(body, content_type)
    assert str(raised.value) == message


def test_the_simulators_reports_parse_back_to_what_was_sent() -> None:
    at = datetime(2026, 3, 29, 1, 30, 0, tzinfo=UTC)  # the hour the clocks go forward
    for name in ("mmg", "firetext"):
        body, content_type = inbound_report(
            name, source=SOURCE, destination=DESTINATION, message=MESSAGE, reference="r-1", at=at
        )
        text = provider(name).parse_inbound(body, content_type)
        assert (text.source_number, text.destination_number, text.message, text.received_at) == (
            SOURCE,
            DESTINATION,
            MESSAGE,
            at,
        )
        assert text.provider_reference == ("r-1" if name == "mmg" else None)


def test_inbound_ids_are_the_same_for_the_same_report_and_differ_otherwise() -> None:
    text = InboundText("ref", SOURCE, DESTINATION, MESSAGE, datetime(2026, 1, 1, tzinfo=UTC))
    assert route.inbound_id("mmg", text) == route.inbound_id("mmg", text)
    assert route.inbound_id("mmg", text) != route.inbound_id("firetext", text)
    assert route.inbound_id("mmg", text) != route.inbound_id(
        "mmg", InboundText("other", *list(vars(text).values())[1:])
    )
    unreferenced = InboundText(None, SOURCE, DESTINATION, MESSAGE, datetime(2026, 1, 1, tzinfo=UTC))
    again = InboundText(None, SOURCE, DESTINATION, MESSAGE, datetime(2026, 1, 1, tzinfo=UTC))
    later = InboundText(None, SOURCE, DESTINATION, MESSAGE, datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC))
    assert route.inbound_id("firetext", unreferenced) == route.inbound_id("firetext", again)
    assert route.inbound_id("firetext", unreferenced) != route.inbound_id("firetext", later)


# -- the route -------------------------------------------------------------------------------------------------


@pytest.fixture
def db(infra: Infra) -> Iterator[Database]:
    with scratch_database(infra, metadata, "sms_inbound") as database:
        yield database


@pytest.fixture
def app(db: Database) -> FastAPI:
    app = FastAPI()
    app.include_router(route.router)
    woken: list[bool] = []
    app.state.context = SimpleNamespace(
        db=db,
        pool=SimpleNamespace(providers={"mmg": provider("mmg"), "firetext": provider("firetext")}),
        relay=SimpleNamespace(wake=lambda: woken.append(True)),
    )
    app.state.woken = woken
    return app


def _events(db: Database) -> list[Any]:
    with db.engine.connect() as conn:
        return [decode(bytes(b)) for b in conn.execute(select(outbox.c.body).order_by(outbox.c.id)).scalars()]


async def _post(app: FastAPI, path: str, body: bytes, content_type: str, auth: str | None) -> httpx.Response:
    headers = {"Content-Type": content_type, **({"Authorization": auth} if auth else {})}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        return await client.post(path, content=body, headers=headers)


async def test_a_report_is_announced_once_per_delivery_with_a_repeatable_id(
    app: FastAPI, db: Database
) -> None:
    body = orjson.dumps(mmg_report())
    with capture_logs() as logs:
        first = await _post(
            app, "/notifications/sms/receive/mmg", body, "application/json", basic(USER, PASSWORD)
        )
    assert first.status_code == 200 and first.json() == {"status": "ok"}
    again = await _post(
        app, "/notifications/sms/receive/mmg", body, "application/json", basic(USER, PASSWORD)
    )
    assert again.status_code == 200
    events = _events(db)
    assert [e.routing_key for e in events] == ["sms.received.v1", "sms.received.v1"]
    payload = events[0].payload
    assert isinstance(payload, SmsReceivedV1)
    assert payload == SmsReceivedV1(
        inbound_id=route.inbound_id("mmg", provider("mmg").parse_inbound(body, "")),
        provider="mmg",
        provider_reference="mmg-123",
        destination_number=DESTINATION,
        source_number=SOURCE,
        message=MESSAGE,
        received_at=datetime(2026, 7, 1, 11, 30, 5, tzinfo=UTC),
    )
    assert events[1].payload == payload  # the same report again: notifications stores it once
    assert app.state.woken == [True, True]
    logged = repr(logs)
    assert SOURCE not in logged and DESTINATION not in logged and "please" not in logged


async def test_firetext_reports_are_forms(app: FastAPI, db: Database) -> None:
    answer = await _post(
        app,
        "/notifications/sms/receive/firetext",
        urlencode(firetext_report()).encode(),
        "application/x-www-form-urlencoded",
        basic(USER, PASSWORD),
    )
    assert answer.status_code == 200, answer.text
    (event,) = _events(db)
    assert (event.payload.provider, event.payload.provider_reference, event.payload.message) == (
        "firetext",
        None,
        MESSAGE,
    )


@pytest.mark.parametrize(
    "auth", [None, basic(USER, "wrong"), basic("wrong", PASSWORD), "Bearer " + PASSWORD, "Basic !!!"]
)
async def test_bad_credentials_are_refused_and_nothing_is_announced(
    app: FastAPI, db: Database, auth: str | None
) -> None:
    for name, body in (
        ("mmg", orjson.dumps(mmg_report())),
        ("firetext", urlencode(firetext_report()).encode()),
    ):
        answer = await _post(app, f"/notifications/sms/receive/{name}", body, "", auth)
        assert answer.status_code == 401
        assert answer.json() == {"result": "error", "message": "Unauthorized"}
    assert _events(db) == []


async def test_malformed_reports_are_refused_with_the_reason(app: FastAPI, db: Database) -> None:
    answer = await _post(
        app,
        "/notifications/sms/receive/mmg",
        orjson.dumps(mmg_report(MSISDN="")),
        "application/json",
        basic(USER, PASSWORD),
    )
    assert answer.status_code == 400
    assert answer.json() == {"result": "error", "message": "mmg inbound text has no MSISDN"}
    unknown = await _post(app, "/notifications/sms/receive/nope", b"{}", "", basic(USER, PASSWORD))
    assert unknown.status_code == 404
    assert _events(db) == []


async def test_a_value_too_long_to_store_is_refused_by_field_name_only(app: FastAPI, db: Database) -> None:
    long_sender = "4" * 60
    with capture_logs() as logs:
        answer = await _post(
            app,
            "/notifications/sms/receive/mmg",
            orjson.dumps(mmg_report(MSISDN=long_sender, Message="x" * 6000)),
            "application/json",
            basic(USER, PASSWORD),
        )
    assert answer.status_code == 400
    assert answer.json() == {
        "result": "error",
        "message": "mmg inbound text has a value too long: message, source_number",
    }
    assert long_sender not in repr(logs) and long_sender not in answer.text
    assert _events(db) == []


# -- the simulators --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("flavour", ["mmg", "firetext"])
async def test_the_simulator_sends_a_received_text_to_the_route(
    app: FastAPI, db: Database, flavour: str
) -> None:
    async with serve(app) as url:
        settings = SimulatorSettings(
            flavour=flavour,
            receipt_username=USER,
            receipt_password=PASSWORD,
            inbound_url=f"{url}/notifications/sms/receive/{flavour}",
        )
        sim = create_simulator(settings)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim), base_url="http://sim") as client:
            sent = await client.post(
                "/inbound", json={"source": "07700 900123", "destination": DESTINATION, "message": MESSAGE}
            )
            refused = await client.post("/inbound", json={"source": "x", "destination": DESTINATION})
            stats = (await client.get("/stats")).json()
    assert sent.status_code == 200, sent.text
    assert sent.json()["status_code"] == 200
    assert refused.status_code == 400
    assert stats["inbound"] == {"sent": 1, "refused": 0}
    (event,) = _events(db)
    assert (event.payload.provider, event.payload.source_number, event.payload.message) == (
        flavour,
        "07700 900123",
        MESSAGE,
    )
    assert event.payload.provider_reference == sent.json()["reference"]
    assert abs((event.payload.received_at - datetime.now(UTC)).total_seconds()) < 5


async def test_the_simulator_without_an_inbound_url_says_so() -> None:
    sim = create_simulator(SimulatorSettings(flavour="mmg"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim), base_url="http://sim") as client:
        answer = await client.post("/inbound", json={"source": "1", "destination": "2", "message": "hi"})
    assert answer.status_code == 409
    assert "SMS_SIM_INBOUND_URL" in answer.json()["error"]


def test_ids_are_uuid5() -> None:
    text = InboundText("ref", SOURCE, DESTINATION, MESSAGE, None)
    assert route.inbound_id("mmg", text) == uuid.uuid5(route.INBOUND_NAMESPACE, "mmg:ref")
