"""The print simulator: counts what it prints, never prints a batch twice, and posts receipts chosen by address."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from notify_delivery_letter.adapters.print_wire import BatchLetter, build_archive
from notify_delivery_letter.simulator import PrintSimulatorSettings, create_app, outcome_for

AUTH = ("notify", "notify-print-simulator")


def settings(**overrides) -> PrintSimulatorSettings:
    base = {
        "receipt_url": "http://letter/notifications/letter/receipts",
        "despatch_delay_ms": 0,
        "return_delay_ms": 0,
    }
    return PrintSimulatorSettings(**{**base, **overrides})


class Receiver:
    """Stands in for delivery-letter's receipts endpoint; refuses the first ``refuse`` posts with 409."""

    def __init__(self, refuse: int = 0) -> None:
        self.refuse = refuse
        self.posts: list[dict] = []
        self.auth: list[str | None] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.auth.append(request.headers.get("authorization"))
        if self.refuse:
            self.refuse -= 1
            return httpx.Response(409, json={"result": "error"})
        self.posts.append(json.loads(request.content))
        return httpx.Response(200, json={"result": "success"})

    def statuses(self) -> list[tuple[str, str]]:
        return [(r["notification_id"], r["status"]) for post in self.posts for r in post["receipts"]]


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


async def simulator(receiver: Receiver, **overrides) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings(**overrides), receipt_transport=httpx.MockTransport(receiver))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://printer") as client:
        client.app = app  # type: ignore[attr-defined]
        yield client
    await app.state.simulator.receipts.aclose()


@pytest.fixture
async def printer(receiver: Receiver) -> AsyncIterator[httpx.AsyncClient]:
    async for client in simulator(receiver):
        yield client


def archive(make_pdf, *letters: tuple[str, list[str], str]) -> bytes:
    return build_archive(
        "b",
        datetime.now(UTC),
        [BatchLetter(nid, postage, 1, 1, make_pdf(address=address)) for nid, address, postage in letters],
    )


async def upload(client: httpx.AsyncClient, key: str | None, body: bytes, auth=AUTH) -> httpx.Response:
    headers = {"Content-Type": "application/zip", **({"Idempotency-Key": key} if key else {})}
    return await client.post("/batches", content=body, headers=headers, auth=auth)


async def eventually(check, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    for _ in range(int(timeout * 100)):  # receipts are posted by background tasks: poll for them
        if check() or asyncio.get_running_loop().time() >= deadline:
            return
        await asyncio.sleep(0.01)


@pytest.mark.parametrize(
    ("first_line", "outcome"),
    [
        ("Ada Lovelace", "despatched"),
        ("Reject Ada Lovelace", "rejected"),
        ("Ada REJECT", "rejected"),
        ("Return Ada Lovelace", "returned"),
        ("Rejected Ada", "despatched"),  # a word, not a substring
        ("Ada Returnsworth", "despatched"),
    ],
)
def test_the_outcome_is_chosen_by_a_word_in_the_first_address_line(first_line: str, outcome: str) -> None:
    assert outcome_for([first_line, "1 High Street", "SW1A 1AA"]) == outcome


async def test_a_batch_is_printed_once_and_a_retry_with_its_key_replays_the_answer(printer, make_pdf) -> None:
    body = archive(
        make_pdf,
        ("n1", ["Ada", "1 High St", "SW1A 1AA"], "first"),
        ("n2", ["Bo", "2 Low St", "SW1A 2AA"], "europe"),
    )
    first = await upload(printer, "batch-1", body)
    assert first.status_code == 201
    answer = first.json()
    assert [x["notification_id"] for x in answer["letters"]] == ["n1", "n2"]
    again = await upload(printer, "batch-1", body)
    assert (again.status_code, again.json(), again.headers["Idempotent-Replayed"]) == (200, answer, "true")
    stats = (await printer.get("/stats")).json()
    assert (stats["batches"], stats["replays"], stats["total"]) == (1, 1, 2)
    assert stats["by_reference"] == {"n1": 1, "n2": 1} and stats["duplicates"] == []
    assert stats["postage"] == {"first": 1, "europe": 1}
    letter = (await printer.get("/letters/n2")).json()
    assert (letter["printed"], letter["uploads"], letter["postage"], letter["batch_id"]) == (
        1,
        2,
        "europe",
        "batch-1",
    )
    assert (await printer.get("/letters/unknown")).status_code == 404


async def test_the_same_batch_sent_twice_at_once_is_printed_once(receiver, make_pdf) -> None:
    async for client in simulator(receiver, latency_ms=200):
        body = archive(make_pdf, ("n1", ["Ada", "1 High St", "SW1A 1AA"], "second"))
        answers = await asyncio.gather(upload(client, "k", body), upload(client, "k", body))
        assert sorted(a.status_code for a in answers) == [200, 201]
        assert (await client.get("/stats")).json()["by_reference"] == {"n1": 1}


async def test_uploads_are_checked(printer, make_pdf) -> None:
    body = archive(make_pdf, ("n1", ["Ada", "1 High St", "SW1A 1AA"], "second"))
    assert (await upload(printer, "k", body, auth=("notify", "wrong"))).status_code == 401
    assert (await upload(printer, None, body)).status_code == 400
    assert (await upload(printer, "k2", b"not a zip")).status_code == 400
    assert (await printer.get("/stats")).json()["refused"] == {
        "unauthorised": 1,
        "malformed": 2,
        "injected_errors": 0,
    }
    assert (await printer.get("/stats")).json()["total"] == 0


async def test_injected_errors_print_nothing(receiver, make_pdf) -> None:
    async for client in simulator(receiver, error_rate=1.0):
        body = archive(make_pdf, ("n1", ["Ada", "1 High St", "SW1A 1AA"], "second"))
        assert (await upload(client, "k", body)).status_code == 503
        assert (await client.get("/stats")).json()["total"] == 0


async def test_receipts_follow_the_address_and_returns_come_after_despatch(
    printer, receiver, make_pdf
) -> None:
    body = archive(
        make_pdf,
        ("ok", ["Ada Lovelace", "1 High St", "SW1A 1AA"], "second"),
        ("bad", ["Reject Ada", "1 High St", "SW1A 1AA"], "second"),
        ("back", ["Return Ada", "1 High St", "SW1A 1AA"], "second"),
    )
    references = {
        x["notification_id"]: x["reference"] for x in (await upload(printer, "k", body)).json()["letters"]
    }
    await eventually(lambda: len(receiver.posts) == 2)
    assert receiver.statuses() == [
        ("ok", "DESPATCHED"),
        ("bad", "REJECTED"),
        ("back", "DESPATCHED"),
        ("back", "RETURNED"),
    ]
    assert [r["reference"] for r in receiver.posts[0]["receipts"]] == [
        references[n] for n in ("ok", "bad", "back")
    ]
    assert receiver.auth[0] == httpx.BasicAuth("notify", "notify-print-receipts")._auth_header


async def test_receipts_the_receiver_refuses_are_retried(make_pdf) -> None:
    receiver = Receiver(refuse=2)
    async for client in simulator(receiver):
        await upload(client, "k", archive(make_pdf, ("ok", ["Ada", "1 High St", "SW1A 1AA"], "second")))
        await eventually(lambda: receiver.posts, timeout=10)
        assert receiver.statuses() == [("ok", "DESPATCHED")]
        assert (await client.get("/stats")).json()["receipts"]["retried"] == 2


class ReturnedReceiver(Receiver):
    """Also takes returned-letter reports, answering like delivery-letter: unknown references are refused with 409."""

    def __init__(self) -> None:
        super().__init__()
        self.returned: list[dict] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path != "/notifications/letter/returned":
            return super().__call__(request)
        self.auth.append(request.headers.get("authorization"))
        body = json.loads(request.content)
        self.returned.append(body)
        unknown = [r for r in body["references"] if not r.startswith("PB-")]
        if unknown:
            return httpx.Response(409, json={"result": "error", "unknown": unknown})
        return httpx.Response(200, json={"result": "success", "returned": len(body["references"])})


async def test_letters_are_reported_returned_on_demand_by_id_or_reference(make_pdf) -> None:
    receiver = ReturnedReceiver()
    async for client in simulator(receiver):
        body = archive(
            make_pdf,
            ("a", ["Ada", "1 High St", "SW1A 1AA"], "second"),
            ("b", ["Bo", "2 St", "SW1A 2AA"], "first"),
        )
        refs = {
            x["notification_id"]: x["reference"] for x in (await upload(client, "k", body)).json()["letters"]
        }
        answer = await client.post("/returned", json={"notification_ids": ["a"], "references": [refs["b"]]})
        assert answer.status_code == 200
        assert answer.json() == {
            "references": [refs["a"], refs["b"]],
            "answer": {"result": "success", "returned": 2},
        }
        assert receiver.returned == [{"references": [refs["a"], refs["b"]]}]
        assert receiver.auth[-1] == httpx.BasicAuth("notify", "notify-print-receipts")._auth_header
        assert (await client.get("/stats")).json()["returned_reported"] == 2
        assert (await client.get("/letters/a")).json()["outcome"] == "returned"
        # The receiver's refusal is passed back as it was given.
        refused = await client.post("/returned", json={"references": ["NOPE"]})
        assert (refused.status_code, refused.json()["answer"]["unknown"]) == (409, ["NOPE"])


async def test_a_return_for_a_letter_never_printed_or_a_malformed_trigger_reports_nothing() -> None:
    receiver = ReturnedReceiver()
    async for client in simulator(receiver):
        missing = await client.post("/returned", json={"notification_ids": ["never"]})
        assert (missing.status_code, missing.json()["unknown"]) == (404, ["never"])
        for bad in ({}, {"notification_ids": "a"}, {"references": [1]}, [], {"references": [""]}):
            assert (await client.post("/returned", json=bad)).status_code == 400
        assert receiver.returned == []


def test_returned_reports_go_next_to_receipts_unless_told_otherwise() -> None:
    assert settings().returned_report_url == "http://letter/notifications/letter/returned"
    assert settings(returned_url="http://elsewhere/r").returned_report_url == "http://elsewhere/r"
    assert settings(receipt_url=None).returned_report_url is None
