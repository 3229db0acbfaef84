"""The api role's routes against real PostgreSQL: the gateway's internal PDF routes and the printer's receipts."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from notify_contracts import LetterReturnedV1, decode
from notify_delivery_letter.adapters import store
from notify_delivery_letter.adapters.print_provider import UploadResult
from notify_delivery_letter.adapters.scanner import EicarScanner
from notify_delivery_letter.adapters.tables import letters, outbox
from notify_delivery_letter.bootstrap import Context
from notify_delivery_letter.domain.schedule import BatchSchedule
from notify_delivery_letter.entrypoints import internal, receipts
from notify_delivery_letter.handlers.batches import PrintBatcher
from notify_delivery_letter.handlers.prepare import LetterPreparer
from sqlalchemy import select

pytestmark = pytest.mark.integration
AUTH = ("printer", "receipt-secret")


class Relay:
    woken = 0

    def wake(self) -> None:
        self.woken += 1


@pytest.fixture
async def client(db) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.include_router(internal.router)
    app.include_router(receipts.router)
    app.state.context = Context(
        db=db,
        relay=Relay(),  # type: ignore[arg-type]
        pdf_max_bytes=4096,
        provider_name="test-printer",
        receipt_username=AUTH[0],
        receipt_password=AUTH[1],
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://letter") as c:
        yield c


def pdf_url(notification_id: object, service_id: object) -> str:
    return f"/internal/letters/{notification_id}/pdf?service_id={service_id}"


# --- internal PDF routes ----------------------------------------------------------------------------------------
async def test_a_precompiled_pdf_is_stored_once_and_served_only_to_its_service(client, make_pdf) -> None:
    nid, sid, pdf = uuid.uuid4(), uuid.uuid4(), make_pdf()
    assert (await client.get(pdf_url(nid, sid))).status_code == 404
    created = await client.put(pdf_url(nid, sid), content=pdf)
    assert created.status_code == 201 and created.json()["size"] == len(pdf)
    assert (await client.put(pdf_url(nid, sid), content=pdf)).status_code == 200  # a retried PUT
    assert (await client.put(pdf_url(nid, sid), content=pdf + b"\n")).status_code == 409
    assert (await client.put(pdf_url(nid, uuid.uuid4()), content=pdf)).status_code == 409
    got = await client.get(pdf_url(nid, sid))
    assert (got.status_code, got.headers["content-type"], got.content) == (200, "application/pdf", pdf)
    assert (await client.get(pdf_url(nid, uuid.uuid4()))).status_code == 404


async def test_uploads_over_the_limit_or_empty_are_refused(client) -> None:
    nid, sid = uuid.uuid4(), uuid.uuid4()
    assert (await client.put(pdf_url(nid, sid), content=b"%PDF-" + b"x" * 4092)).status_code == 413
    assert (await client.get(pdf_url(nid, sid))).status_code == 404

    async def chunks():  # no Content-Length: the limit still holds while reading
        for _ in range(5):
            yield b"x" * 1000

    assert (await client.put(pdf_url(nid, sid), content=chunks())).status_code == 413
    assert (await client.put(pdf_url(nid, sid), content=b"")).status_code == 400
    assert (await client.put(pdf_url(nid, sid), content=b"x" * 4096)).status_code == 201  # exactly the limit
    assert (await client.put(pdf_url("not-a-uuid", sid), content=b"x")).status_code == 422


async def test_a_templated_letters_pdf_is_served_once_rendered(db, client, make_request) -> None:
    env = make_request()
    p = env.payload
    assert (await client.get(pdf_url(p.notification_id, p.service_id))).status_code == 404
    await LetterPreparer(db, EicarScanner()).handle([env])
    got = await client.get(pdf_url(p.notification_id, p.service_id))
    assert got.status_code == 200 and got.content.startswith(b"%PDF-")


# --- receipts -------------------------------------------------------------------------------------------------------
class Printer:
    name = "test-printer"

    async def upload(self, batch_id: str, archive: bytes) -> UploadResult:
        from notify_delivery_letter.adapters.print_wire import read_archive

        _, letters = read_archive(archive)
        return UploadResult("B-1", {x.notification_id: f"REF-{x.notification_id[:8]}" for x in letters})

    async def aclose(self) -> None:
        pass


async def sent_letters(db, make_request, n: int = 1, *, upload: bool = True) -> list:
    envs = [make_request(created_at=datetime.now(UTC) - timedelta(minutes=5)) for _ in range(n)]
    await LetterPreparer(db, EicarScanner()).handle(envs)
    batcher = PrintBatcher(db, Printer(), BatchSchedule(interval_seconds=1))
    await batcher.collect()
    if upload:
        await batcher.upload_next()
    return envs


async def post(client, *items: tuple[object, str], auth=AUTH):
    body = {"receipts": [{"notification_id": str(n), "reference": "R", "status": s} for n, s in items]}
    return await client.post("/notifications/letter/receipts", json=body, auth=auth)


async def test_receipts_need_the_printers_credentials(client) -> None:
    nid = uuid.uuid4()
    assert (await post(client, (nid, "DESPATCHED"), auth=None)).status_code == 401
    assert (await post(client, (nid, "DESPATCHED"), auth=("printer", "wrong"))).status_code == 401
    assert (await post(client, (nid, "DESPATCHED"), auth=("someone", AUTH[1]))).status_code == 401
    bad = await client.post("/notifications/letter/receipts", headers={"Authorization": "Basic !!"}, json={})
    assert bad.status_code == 401


async def test_malformed_receipts_are_refused(client) -> None:
    url = "/notifications/letter/receipts"
    assert (await client.post(url, content=b"not json", auth=AUTH)).status_code == 400
    assert (await client.post(url, json={"receipts": []}, auth=AUTH)).status_code == 400
    odd = {"receipts": [{"notification_id": str(uuid.uuid4()), "status": "LOST"}]}
    assert (await client.post(url, json=odd, auth=AUTH)).status_code == 400


async def test_receipts_map_to_statuses_and_duplicates_or_late_ones_change_nothing(
    db, client, make_request, outbox_reports, state_of
) -> None:
    despatched, rejected, returned = await sent_letters(db, make_request, 3)
    d, r, t = (e.payload.notification_id for e in (despatched, rejected, returned))
    before = len(outbox_reports(db))
    assert (await post(client, (d, "DESPATCHED"), (r, "REJECTED"), (t, "DESPATCHED"))).status_code == 200
    assert (await post(client, (t, "RETURNED"))).status_code == 200
    # Duplicates, and receipts contradicting a final status, are accepted (so the printer stops) and ignored.
    again = await post(client, (d, "DESPATCHED"), (d, "REJECTED"), (r, "DESPATCHED"), (t, "DESPATCHED"))
    assert again.status_code == 200
    *new, back = outbox_reports(db)[before:]
    assert [(x.notification_id, x.status) for x in new] == [
        (d, "delivered"),
        (r, "technical-failure"),
        (t, "delivered"),
    ]
    assert all(x.provider == "test-printer" and x.provider_reference.startswith("REF-") for x in new)
    assert new[1].detail == "Rejected by the print provider"
    # A return is announced as letter.returned (notifications records it and calls the service back).
    assert isinstance(back, LetterReturnedV1) and back.notification_id == t
    assert [state_of(db, n) for n in (d, r, t)] == ["despatched", "rejected", "returned"]


async def test_a_return_that_overtakes_its_despatch_is_final(
    db, client, make_request, outbox_statuses
) -> None:
    (env,) = await sent_letters(db, make_request)
    nid = env.payload.notification_id
    assert (await post(client, (nid, "RETURNED"))).status_code == 200
    assert (await post(client, (nid, "DESPATCHED"))).status_code == 200
    assert [s for _, s in outbox_statuses(db, nid)][-1:] == ["returned-letter"]
    assert (str(nid), "delivered") not in outbox_statuses(db, nid)


async def test_a_receipt_for_a_letter_whose_upload_record_was_lost_is_applied(
    db, client, make_request, outbox_statuses, outbox_reports, state_of
) -> None:
    (env,) = await sent_letters(
        db, make_request, upload=False
    )  # collected; the upload's record never made it
    nid = env.payload.notification_id
    assert (await post(client, (nid, "DESPATCHED"))).status_code == 200
    assert outbox_statuses(db, nid)[-1] == (str(nid), "delivered")
    assert state_of(db, nid) == "despatched"
    # The receipt's reference is all there is: it is recorded, and reported.
    assert outbox_reports(db)[-1].provider_reference == "R"
    with db.engine.connect() as conn:
        assert (
            conn.execute(
                select(letters.c.provider_reference).where(letters.c.notification_id == nid)
            ).scalar_one()
            == "R"
        )


async def test_receipts_for_many_letters_in_one_request_are_applied_in_order(
    db, client, make_request, outbox_statuses, state_of
) -> None:
    envs = await sent_letters(db, make_request, 4)
    ids = [e.payload.notification_id for e in envs]
    items = [(n, "DESPATCHED") for n in ids] + [(ids[0], "RETURNED"), (ids[1], "REJECTED")]
    assert (await post(client, *items)).status_code == 200
    assert [state_of(db, n) for n in ids] == ["returned", "despatched", "despatched", "despatched"]
    assert [s for _, s in outbox_statuses(db, ids[0])][-2:] == ["delivered", "returned-letter"]
    assert [s for _, s in outbox_statuses(db, ids[1])][-1] == "delivered"


async def test_receipts_for_letters_never_sent_to_the_printer_are_refused_for_a_retry(
    db, client, make_request, outbox_statuses
) -> None:
    (known,) = await sent_letters(db, make_request)
    ready = make_request()
    await LetterPreparer(db, EicarScanner()).handle([ready])
    unknown = uuid.uuid4()
    answer = await post(
        client,
        (known.payload.notification_id, "DESPATCHED"),
        (unknown, "DESPATCHED"),
        (ready.payload.notification_id, "DESPATCHED"),
    )
    assert answer.status_code == 409
    assert sorted(answer.json()["unknown"]) == sorted([str(unknown), str(ready.payload.notification_id)])
    # The known one was applied all the same (a retry of the whole request is then a harmless duplicate).
    assert outbox_statuses(db, known.payload.notification_id)[-1][1] == "delivered"


async def test_receipts_for_cancelled_letters_change_nothing(
    db, client, make_request, outbox_statuses
) -> None:
    (env,) = await sent_letters(db, make_request, upload=False)
    p = env.payload
    with db.unit_of_work() as conn:
        store.cancel(conn, [(p.notification_id, p.service_id)])
    assert (await post(client, (p.notification_id, "DESPATCHED"))).status_code == 200
    assert [s for _, s in outbox_statuses(db, p.notification_id)] == ["created"]


# --- returned-letter reports ----------------------------------------------------------------------------------------
def reference(env) -> str:
    return f"REF-{str(env.payload.notification_id)[:8]}"  # what Printer answered for it


async def report_returned(client, *references: str, auth=AUTH):
    return await client.post(
        "/notifications/letter/returned", json={"references": list(references)}, auth=auth
    )


def returned_events(db) -> list:
    with db.engine.connect() as conn:
        bodies = conn.execute(select(outbox.c.body).order_by(outbox.c.id)).scalars()
        envelopes = [decode(bytes(b)) for b in bodies]
    return [e for e in envelopes if e.type == "letter.returned"]


async def test_returned_letter_reports_need_the_printers_credentials_and_a_list_of_references(client) -> None:
    assert (await report_returned(client, "REF-1", auth=None)).status_code == 401
    assert (await report_returned(client, "REF-1", auth=("printer", "wrong"))).status_code == 401
    url = "/notifications/letter/returned"
    assert (await client.post(url, content=b"not json", auth=AUTH)).status_code == 400
    assert (await client.post(url, json={"references": []}, auth=AUTH)).status_code == 400
    assert (await client.post(url, json={"references": ["  "]}, auth=AUTH)).status_code == 400
    assert (await client.post(url, json={"references": ["x" * 256]}, auth=AUTH)).status_code == 400


async def test_each_returned_letter_is_announced_once_with_its_correlation_id(
    db, client, make_request, state_of
) -> None:
    first, second, kept = await sent_letters(db, make_request, 3)
    await post(client, *((e.payload.notification_id, "DESPATCHED") for e in (first, second, kept)))
    answer = await report_returned(client, reference(first), reference(second), reference(first))
    assert (answer.status_code, answer.json()) == (200, {"result": "success", "returned": 2})
    events = returned_events(db)
    assert sorted((e.payload.notification_id, e.correlation_id) for e in events) == sorted(
        (e.payload.notification_id, e.correlation_id) for e in (first, second)
    )
    assert all(e.producer == "delivery-letter" and e.routing_key == "letter.returned.v1" for e in events)
    assert [state_of(db, e.payload.notification_id) for e in (first, second, kept)] == [
        "returned",
        "returned",
        "despatched",
    ]
    # The same report again (the printer retrying) announces nothing more; a late despatch changes nothing.
    again = await report_returned(client, reference(first))
    assert (again.status_code, again.json()) == (200, {"result": "success", "returned": 0})
    await post(client, (first.payload.notification_id, "DESPATCHED"))
    assert len(returned_events(db)) == 2 and state_of(db, first.payload.notification_id) == "returned"


async def test_unknown_or_rejected_references_are_answered_after_the_others_are_applied(
    db, client, make_request, state_of
) -> None:
    returned, rejected = await sent_letters(db, make_request, 2)
    await post(client, (rejected.payload.notification_id, "REJECTED"))
    answer = await report_returned(client, reference(returned), reference(rejected), "NO-SUCH-REF")
    assert answer.status_code == 409
    assert answer.json() == {
        "result": "error",
        "message": "Unknown reference",
        "returned": 1,
        "unknown": sorted([reference(rejected), "NO-SUCH-REF"]),
    }
    # Returned straight from "sent" (the despatch receipt not in yet) is applied.
    assert state_of(db, returned.payload.notification_id) == "returned"
    assert state_of(db, rejected.payload.notification_id) == "rejected"
    assert [e.payload.notification_id for e in returned_events(db)] == [returned.payload.notification_id]
