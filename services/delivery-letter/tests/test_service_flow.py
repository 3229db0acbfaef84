"""delivery-letter in one process, for real except the broker: a precompiled PDF PUT on the internal API, its
``delivery.letter.requested`` (precompiled=True) handled, the batch uploaded over HTTP to the print simulator, whose
receipts come back to the receipts endpoint. Real PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from notify_delivery_letter.adapters.print_provider import HttpPrintProvider
from notify_delivery_letter.adapters.scanner import EicarScanner
from notify_delivery_letter.bootstrap import Context
from notify_delivery_letter.domain.schedule import BatchSchedule
from notify_delivery_letter.entrypoints import internal, receipts
from notify_delivery_letter.handlers.batches import PrintBatcher
from notify_delivery_letter.handlers.prepare import LetterPreparer
from notify_delivery_letter.simulator import PrintSimulatorSettings, create_app

pytestmark = pytest.mark.integration


class Relay:
    def wake(self) -> None:
        pass


@pytest.fixture
async def service(db) -> AsyncIterator[dict[str, Any]]:
    api = FastAPI()
    api.include_router(internal.router)
    api.include_router(receipts.router)
    api.state.context = Context(
        db=db,
        relay=Relay(),  # type: ignore[arg-type]
        pdf_max_bytes=10 * 1024 * 1024,
        provider_name="print-simulator",
        receipt_username="notify",
        receipt_password="notify-print-receipts",
    )
    printer = create_app(
        PrintSimulatorSettings(
            receipt_url="http://letter/notifications/letter/receipts",
            despatch_delay_ms=300,
            return_delay_ms=0,
        ),
        receipt_transport=httpx.ASGITransport(app=api),
    )
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://letter") as gateway,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=printer), base_url="http://printer"
        ) as to_printer,
    ):
        provider = HttpPrintProvider(
            name="print-simulator",
            base_url="http://printer",
            username="notify",
            password="notify-print-simulator",
            client=to_printer,
        )
        yield {
            "gateway": gateway,
            "printer": to_printer,
            "preparer": LetterPreparer(db, EicarScanner()),
            "batcher": PrintBatcher(db, provider, BatchSchedule(interval_seconds=1)),
        }
    await printer.state.simulator.receipts.aclose()


async def until(check, timeout: float = 10.0) -> None:
    for _ in range(int(timeout * 20)):  # receipts arrive from the simulator's background tasks
        if check():
            return
        await asyncio.sleep(0.05)


async def test_a_precompiled_letter_goes_from_upload_to_print_to_receipt(
    db, service, make_request, make_pdf, outbox_reports
) -> None:
    env = make_request(precompiled=True, created_at=datetime.now(UTC) - timedelta(minutes=1))
    p = env.payload
    pdf = make_pdf(address=["Ada Lovelace", "1 High Street", "SW1A 1AA"], pages=2)
    url = f"/internal/letters/{p.notification_id}/pdf?service_id={p.service_id}"
    assert (await service["gateway"].put(url, content=pdf)).status_code == 201
    assert (await service["gateway"].put(url, content=pdf)).status_code == 200  # the gateway retried

    assert await service["preparer"].handle([env]) == 1
    assert await service["preparer"].handle([env]) == 0  # redelivered
    assert len(await service["batcher"].collect()) == 1
    assert await service["batcher"].upload_next() is True

    await until(lambda: len(outbox_reports(db)) >= 3)
    created, sending, delivered = outbox_reports(db)
    assert (created.status, created.recipient, created.postage, created.billable_units) == (
        "created",
        "Ada Lovelace\n1 High Street\nSW1A 1AA",
        "second",
        1,
    )
    assert (sending.status, sending.provider) == ("sending", "print-simulator")
    assert (delivered.status, delivered.provider_reference) == ("delivered", sending.provider_reference)
    printed = (await service["printer"].get(f"/letters/{p.notification_id}")).json()
    assert (printed["printed"], printed["pages"], printed["sheets"]) == (1, 2, 1)
    got = await service["gateway"].get(url)
    assert got.status_code == 200 and got.content == pdf


async def test_returned_and_rejected_letters_come_back_through_receipts(
    db, service, make_request, outbox_statuses
) -> None:
    created_at = datetime.now(UTC) - timedelta(minutes=1)
    returned = make_request(address=["Return Ada", "1 High Street", "SW1A 1AA"], created_at=created_at)
    rejected = make_request(address=["Reject Bo", "2 High Street", "SW1A 2AA"], created_at=created_at)
    await service["preparer"].handle([returned, rejected])
    await service["batcher"].collect()
    await service["batcher"].upload_next()
    r, j = str(returned.payload.notification_id), str(rejected.payload.notification_id)
    await until(lambda: (r, "returned-letter") in outbox_statuses(db))
    assert [s for n, s in outbox_statuses(db) if n == r] == [
        "created",
        "sending",
        "delivered",
        "returned-letter",
    ]
    assert [s for n, s in outbox_statuses(db) if n == j] == ["created", "sending", "technical-failure"]
