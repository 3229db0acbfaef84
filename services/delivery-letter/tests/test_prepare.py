"""Letter requests → PDFs stored, letters queued for print, statuses reported; once per notification, against real
PostgreSQL."""

from __future__ import annotations

import pytest
from notify_delivery_letter.adapters import store
from notify_delivery_letter.adapters.scanner import EICAR_SIGNATURE, EicarScanner, ScannerUnavailable
from notify_delivery_letter.adapters.tables import letters, pdfs, sends
from notify_delivery_letter.handlers.prepare import LetterPreparer, PdfNotUploaded, give_up
from notify_platform.db import Database
from sqlalchemy import func, select

pytestmark = pytest.mark.integration


def _ledger(db: Database, env) -> str:
    with db.engine.connect() as conn:
        return conn.execute(
            select(sends.c.state).where(sends.c.notification_id == env.payload.notification_id)
        ).scalar()


def _count(db: Database, table) -> int:
    with db.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def _upload(db: Database, env, pdf: bytes) -> None:
    with db.unit_of_work() as conn:
        p = env.payload
        assert store.put_pdf(conn, p.notification_id, p.service_id, pdf, precompiled=True) == "created"


async def test_a_templated_letter_is_stored_ready_for_print_and_reported_once(
    db, make_request, outbox_reports, state_of
) -> None:
    preparer = LetterPreparer(db, EicarScanner())
    env = make_request(body="\n\n---\n\n".join(["One", "Two", "Three"]))
    nid = env.payload.notification_id
    assert await preparer.handle([env, env]) == 1
    (created,) = outbox_reports(db)
    assert (created.notification_id, created.status, created.billable_units) == (nid, "created", 2)
    assert created.detail == "3 pages" and created.recipient is None and created.postage is None
    assert state_of(db, nid) == "ready" and _ledger(db, env) == "sent"
    with db.engine.connect() as conn:
        row = conn.execute(select(letters).where(letters.c.notification_id == nid)).one()
        assert (row.page_count, row.sheets, row.postage, row.created_at) == (
            3,
            2,
            "second",
            env.payload.created_at,
        )
        assert store.servable_pdf(conn, nid, env.payload.service_id).startswith(b"%PDF-")

    # Redelivered (the broker does that): nothing is rendered, stored or reported again.
    assert await preparer.handle([env]) == 0
    assert len(outbox_reports(db)) == 1 and _count(db, pdfs) == 1


async def test_a_letter_over_ten_pages_is_reported_validation_failed_and_never_queued(
    db, make_request, outbox_statuses, state_of
) -> None:
    env = make_request(body="\n\n---\n\n".join(str(n) for n in range(12)))
    await LetterPreparer(db, EicarScanner()).handle([env])
    nid = env.payload.notification_id
    assert outbox_statuses(db) == [(str(nid), "validation-failed")]
    assert state_of(db, nid) is None and _ledger(db, env) == "failed"


async def test_a_test_key_letter_is_reported_sending_then_delivered_and_never_queued_for_print(
    db, make_request, outbox_reports, state_of
) -> None:
    env = make_request(key_type="test")
    await LetterPreparer(db, EicarScanner()).handle([env])
    reported = outbox_reports(db)
    assert [r.status for r in reported] == ["created", "sending", "delivered"]
    assert reported[0].reported_at < reported[1].reported_at < reported[2].reported_at
    assert reported[2].provider == "research" and reported[2].sent_at is not None
    assert state_of(db, env.payload.notification_id) == "research"


async def test_a_precompiled_letter_is_scanned_checked_and_reported_with_its_address(
    db, make_request, make_pdf, outbox_reports, state_of
) -> None:
    env = make_request(precompiled=True, postage="first")
    _upload(db, env, make_pdf(address=["Ada Lovelace", "1 Rue de la Paix", "75002 Paris", "France"], pages=3))
    await LetterPreparer(db, EicarScanner()).handle([env])
    (created,) = outbox_reports(db)
    assert created.status == "created"
    assert created.recipient == "Ada Lovelace\n1 Rue de la Paix\n75002 Paris\nFrance"
    assert (created.postage, created.billable_units) == ("europe", 2)
    assert state_of(db, env.payload.notification_id) == "ready"
    with db.engine.connect() as conn:
        assert conn.execute(select(letters.c.postage, letters.c.pdf_size)).one()[0] == "europe"


async def test_an_infected_precompiled_letter_fails_the_virus_scan_and_is_never_served(
    db, make_request, make_pdf, outbox_statuses, state_of
) -> None:
    env = make_request(precompiled=True)
    p = env.payload
    _upload(db, env, make_pdf() + EICAR_SIGNATURE)
    await LetterPreparer(db, EicarScanner()).handle([env])
    assert outbox_statuses(db) == [(str(p.notification_id), "virus-scan-failed")]
    assert state_of(db, p.notification_id) is None
    with db.engine.connect() as conn:
        assert store.servable_pdf(conn, p.notification_id, p.service_id) is None


async def test_an_invalid_precompiled_letter_fails_validation_with_the_reason(
    db, make_request, outbox_reports
) -> None:
    env = make_request(precompiled=True)
    _upload(db, env, b"%PDF-1.4 truncated")
    await LetterPreparer(db, EicarScanner()).handle([env])
    (failed,) = outbox_reports(db)
    assert (failed.status, failed.detail) == ("validation-failed", "Letter content is not a valid PDF")


async def test_a_precompiled_letter_without_its_pdf_is_retried_then_ends_technical_failure(
    db, make_request, outbox_statuses
) -> None:
    env, other = make_request(precompiled=True), make_request()
    with pytest.raises(PdfNotUploaded):
        await LetterPreparer(db, EicarScanner()).handle([env, other])
    # The other letter of the batch was recorded; the missing one stays claimed for the retry.
    assert outbox_statuses(db) == [(str(other.payload.notification_id), "created")]
    assert _ledger(db, env) == "claimed"
    await give_up(db, env, "PdfNotUploaded: no uploaded PDF")
    assert outbox_statuses(db, env.payload.notification_id) == [
        (str(env.payload.notification_id), "technical-failure")
    ]


async def test_a_scanner_outage_is_retried_not_passed(db, make_request, make_pdf, outbox_statuses) -> None:
    class Down:
        name = "down"

        async def scan(self, data: bytes):
            raise ScannerUnavailable("clamd not answering")

    env = make_request(precompiled=True)
    _upload(db, env, make_pdf())
    with pytest.raises(ScannerUnavailable):
        await LetterPreparer(db, Down()).handle([env])
    assert outbox_statuses(db) == [] and _ledger(db, env) == "claimed"
    await LetterPreparer(db, EicarScanner()).handle([env])  # the retry
    assert outbox_statuses(db) == [(str(env.payload.notification_id), "created")]


async def test_a_claim_left_by_a_crash_is_prepared_again_once(db, make_request, outbox_statuses) -> None:
    env = make_request()
    with db.unit_of_work() as conn:
        conn.execute(
            sends.insert().values(
                notification_id=env.payload.notification_id,
                service_id=env.payload.service_id,
                state="claimed",
            )
        )
    assert await LetterPreparer(db, EicarScanner()).handle([env]) == 1
    assert outbox_statuses(db) == [(str(env.payload.notification_id), "created")]


async def test_a_letter_cancelled_before_its_request_arrives_is_never_queued(
    db, make_request, outbox_statuses, state_of
) -> None:
    env = make_request(key_type="test")
    p = env.payload
    with db.unit_of_work() as conn:
        assert store.cancel(conn, [(p.notification_id, p.service_id)]) == 1
    await LetterPreparer(db, EicarScanner()).handle([env])
    assert state_of(db, p.notification_id) == "cancelled"
    # Only the PDF's facts are reported; no faked print receipts for a cancelled letter.
    assert outbox_statuses(db) == [(str(p.notification_id), "created")]
