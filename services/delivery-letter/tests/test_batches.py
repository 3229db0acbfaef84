"""Print batches against real PostgreSQL with a fake printer and a controlled clock: who is collected at the
cut-off, each batch uploaded once with its id as idempotency key, retries, give-up, cancellation, crashed workers."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from notify_delivery_letter.adapters import store
from notify_delivery_letter.adapters.print_provider import PrintProviderError, UploadResult
from notify_delivery_letter.adapters.print_wire import read_archive
from notify_delivery_letter.adapters.scanner import EicarScanner
from notify_delivery_letter.adapters.tables import batches
from notify_delivery_letter.domain.schedule import LONDON, BatchSchedule
from notify_delivery_letter.handlers.batches import PrintBatcher
from notify_delivery_letter.handlers.prepare import LetterPreparer
from sqlalchemy import select, text

pytestmark = pytest.mark.integration

TUESDAY, WEDNESDAY = date(2025, 1, 14), date(2025, 1, 15)


def london(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=LONDON)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class FakePrinter:
    """Records every upload (key and manifest); fails with the queued errors first."""

    name = "fake-printer"

    def __init__(self, *errors: PrintProviderError) -> None:
        self.errors = list(errors)
        self.uploads: list[tuple[str, list[tuple[str, str]]]] = []

    async def upload(self, batch_id: str, archive: bytes) -> UploadResult:
        _, letters = read_archive(archive)
        self.uploads.append((batch_id, [(x.notification_id, x.postage) for x in letters]))
        if self.errors:
            raise self.errors.pop(0)
        return UploadResult(
            f"B-{batch_id[:8]}", {x.notification_id: f"L-{x.notification_id}" for x in letters}
        )

    async def aclose(self) -> None:
        pass

    def printed(self) -> list[str]:
        return [nid for _, letters in self.uploads for nid, _ in letters]


RETRYABLE = PrintProviderError("fake-printer upload: HTTP 503", retryable=True, status_code=503)
REFUSED = PrintProviderError("fake-printer upload: HTTP 422 (bad manifest)", retryable=False, status_code=422)


@pytest.fixture
def clock() -> Clock:
    return Clock(london(TUESDAY, time(17, 50)))


def batcher(db, printer, clock, schedule: BatchSchedule | None = None, **options) -> PrintBatcher:
    return PrintBatcher(db, printer, schedule or BatchSchedule(), clock=clock, **options)


async def ready_letters(db, make_request, *created: datetime, **kwargs) -> list:
    envs = [make_request(created_at=at, **kwargs) for at in created]
    await LetterPreparer(db, EicarScanner()).handle(envs)
    return envs


def nid(env) -> str:
    return str(env.payload.notification_id)


async def test_letters_created_before_the_cutoff_are_collected_once_at_the_batch_time(
    db, make_request, clock, state_of
) -> None:
    monday_noon = london(TUESDAY - timedelta(days=1), time(12))
    just_before, at_cutoff = london(TUESDAY, time(17, 29, 59, 999999)), london(TUESDAY, time(17, 30))
    older, before, after, cancelled = await ready_letters(
        db, make_request, monday_noon, just_before, at_cutoff, london(TUESDAY, time(10))
    )
    with db.unit_of_work() as conn:
        store.cancel(conn, [(cancelled.payload.notification_id, cancelled.payload.service_id)])
    printer = FakePrinter()

    clock.now = london(TUESDAY, time(17, 49))
    assert await batcher(db, printer, clock).collect() == []  # not yet
    clock.now = london(TUESDAY, time(17, 50))
    (batch,) = await batcher(db, printer, clock).collect()
    assert {state_of(db, e.payload.notification_id) for e in (older, before)} == {"batched"}
    assert state_of(db, after.payload.notification_id) == "ready"  # at the cut-off: tomorrow's batch
    assert state_of(db, cancelled.payload.notification_id) == "cancelled"
    # Another replica (or a restart) the same day collects nothing: the day is done.
    (late,) = await ready_letters(db, make_request, london(TUESDAY, time(9)))
    clock.now = london(TUESDAY, time(21))
    assert await batcher(db, printer, clock).collect() == []
    assert state_of(db, late.payload.notification_id) == "ready"

    clock.now = london(WEDNESDAY, time(17, 55))
    (tomorrow,) = await batcher(db, printer, clock).collect()
    assert {state_of(db, e.payload.notification_id) for e in (after, late)} == {"batched"}
    assert tomorrow != batch


async def test_interval_mode_collects_every_ready_letter_and_splits_big_collections(
    db, make_request, clock, state_of
) -> None:
    envs = await ready_letters(db, make_request, *(clock.now - timedelta(seconds=n) for n in range(1, 6)))
    made = await batcher(db, FakePrinter(), clock, BatchSchedule(interval_seconds=1), max_letters=2).collect()
    assert len(made) == 3
    assert {state_of(db, e.payload.notification_id) for e in envs} == {"batched"}


async def test_collection_waits_while_another_replica_holds_the_lock(db, make_request, clock) -> None:
    await ready_letters(db, make_request, clock.now - timedelta(hours=1))
    with db.engine.connect() as other:
        other.execute(text("SELECT pg_advisory_lock(:k)"), {"k": store.COLLECT_LOCK})
        assert await batcher(db, FakePrinter(), clock).collect() == []
        other.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": store.COLLECT_LOCK})
    assert len(await batcher(db, FakePrinter(), clock).collect()) == 1


async def test_an_uploaded_batch_is_reported_sending_with_the_printers_references(
    db, make_request, clock, outbox_reports, state_of
) -> None:
    first, europe = await ready_letters(
        db, make_request, clock.now - timedelta(hours=2), clock.now - timedelta(hours=1)
    )
    printer = FakePrinter()
    b = batcher(db, printer, clock)
    (batch_id,) = await b.collect()
    assert await b.upload_next() is True
    assert await b.upload_next() is False
    assert printer.uploads == [(str(batch_id), [(nid(first), "second"), (nid(europe), "second")])]
    sending = [r for r in outbox_reports(db) if r.status == "sending"]
    assert [(str(r.notification_id), r.provider, r.provider_reference) for r in sending] == [
        (nid(first), "fake-printer", f"L-{nid(first)}"),
        (nid(europe), "fake-printer", f"L-{nid(europe)}"),
    ]
    assert all(r.sent_at == clock.now for r in sending)
    assert state_of(db, first.payload.notification_id) == "sent"
    with db.engine.connect() as conn:
        assert conn.execute(select(batches.c.state, batches.c.attempts)).one() == ("sent", 1)


async def test_letters_the_printers_answer_gives_no_reference_get_one_made_from_the_batch_reference(
    db, make_request, clock, outbox_reports
) -> None:
    named, unnamed = await ready_letters(
        db, make_request, clock.now - timedelta(hours=2), clock.now - timedelta(hours=1)
    )

    class Terse(FakePrinter):
        async def upload(self, batch_id: str, archive: bytes) -> UploadResult:
            await super().upload(batch_id, archive)
            return UploadResult("B-1", {nid(named): "L" * 300, "not-an-id": "X"})

    b = batcher(db, Terse(), clock)
    await b.collect()
    await b.upload_next()
    sending = {
        str(r.notification_id): r.provider_reference for r in outbox_reports(db) if r.status == "sending"
    }
    assert sending == {nid(named): "L" * 255, nid(unnamed): f"B-1/{nid(unnamed)}"}


async def test_postage_classes_travel_in_the_manifest(db, make_request, clock) -> None:
    envs = [
        make_request(postage=p, created_at=clock.now - timedelta(hours=1))
        for p in ("first", "second", "economy")
    ]
    await LetterPreparer(db, EicarScanner()).handle(envs)
    printer = FakePrinter()
    b = batcher(db, printer, clock)
    await b.collect()
    await b.upload_next()
    assert sorted(p for _, letters in printer.uploads for _, p in letters) == ["economy", "first", "second"]


async def test_a_retryable_failure_is_retried_after_the_delay_with_the_same_key(
    db, make_request, clock, outbox_statuses, state_of
) -> None:
    (env,) = await ready_letters(db, make_request, clock.now - timedelta(hours=1))
    printer = FakePrinter(RETRYABLE)
    b = batcher(db, printer, clock, retries=55, retry_delay_seconds=180)
    await b.collect()
    assert await b.upload_next() is True
    assert state_of(db, env.payload.notification_id) == "batched"
    assert [s for _, s in outbox_statuses(db)] == ["created"]
    clock.now += timedelta(seconds=179)
    assert await b.upload_next() is False  # not due yet
    clock.now += timedelta(seconds=1)
    assert await b.upload_next() is True
    assert [key for key, _ in printer.uploads] == [printer.uploads[0][0]] * 2
    assert [s for _, s in outbox_statuses(db)] == ["created", "sending"]
    assert state_of(db, env.payload.notification_id) == "sent"


async def test_when_the_retries_run_out_the_letters_end_technical_failure(
    db, make_request, clock, outbox_reports, state_of
) -> None:
    (env,) = await ready_letters(db, make_request, clock.now - timedelta(hours=1))
    printer = FakePrinter(RETRYABLE, RETRYABLE, RETRYABLE, RETRYABLE)
    b = batcher(db, printer, clock, retries=2, retry_delay_seconds=60)
    await b.collect()
    for _ in range(3):  # the first attempt and two retries
        assert await b.upload_next() is True
        clock.now += timedelta(seconds=60)
    assert await b.upload_next() is False
    assert len(printer.uploads) == 3
    failed = outbox_reports(db)[-1]
    assert (failed.status, failed.provider) == ("technical-failure", "fake-printer")
    assert "HTTP 503" in failed.detail
    assert state_of(db, env.payload.notification_id) == "failed"


async def test_a_refused_upload_ends_technical_failure_at_once(
    db, make_request, clock, outbox_statuses
) -> None:
    (env,) = await ready_letters(db, make_request, clock.now - timedelta(hours=1))
    printer = FakePrinter(REFUSED)
    b = batcher(db, printer, clock)
    await b.collect()
    await b.upload_next()
    clock.now += timedelta(days=1)
    assert await b.upload_next() is False
    assert len(printer.uploads) == 1
    assert outbox_statuses(db)[-1] == (nid(env), "technical-failure")


async def test_a_letter_cancelled_after_collection_is_left_out_of_the_upload(
    db, make_request, clock, outbox_statuses, state_of
) -> None:
    keep, drop = await ready_letters(
        db, make_request, clock.now - timedelta(hours=2), clock.now - timedelta(hours=1)
    )
    printer = FakePrinter()
    b = batcher(db, printer, clock)
    await b.collect()
    with db.unit_of_work() as conn:
        assert store.cancel(conn, [(drop.payload.notification_id, drop.payload.service_id)]) == 1
    await b.upload_next()
    assert printer.printed() == [nid(keep)]
    assert state_of(db, drop.payload.notification_id) == "cancelled"
    assert (nid(drop), "sending") not in outbox_statuses(db)


async def test_a_batch_whose_letters_were_all_cancelled_is_never_uploaded(db, make_request, clock) -> None:
    (env,) = await ready_letters(db, make_request, clock.now - timedelta(hours=1))
    printer = FakePrinter()
    b = batcher(db, printer, clock)
    await b.collect()
    with db.unit_of_work() as conn:
        store.cancel(conn, [(env.payload.notification_id, env.payload.service_id)])
    assert await b.upload_next() is True
    assert printer.uploads == []
    with db.engine.connect() as conn:
        assert conn.execute(select(batches.c.state)).scalar_one() == "empty"


async def test_a_batch_leased_by_a_worker_that_died_is_uploaded_again_with_the_same_key_after_the_lease(
    db, make_request, clock, outbox_statuses
) -> None:
    (env,) = await ready_letters(db, make_request, clock.now - timedelta(hours=1))
    printer = FakePrinter()
    b = batcher(db, printer, clock, lease_seconds=300)
    (batch_id,) = await b.collect()
    # A worker leased it, uploaded (the printer has it) and died before recording anything.
    with db.unit_of_work() as conn:
        assert store.lease_batch(conn, now=clock.now, lease_seconds=300).id == batch_id
    assert await b.upload_next() is False  # still leased
    clock.now += timedelta(seconds=301)
    assert await b.upload_next() is True
    assert [key for key, _ in printer.uploads] == [str(batch_id)]
    assert outbox_statuses(db)[-1] == (nid(env), "sending")
    with db.engine.connect() as conn:
        assert conn.execute(select(batches.c.attempts)).scalar_one() == 2


async def test_a_batch_the_printer_took_before_a_crash_is_replayed_whole_even_after_its_receipts(
    db, make_request, clock, outbox_statuses, state_of
) -> None:
    despatched, waiting = await ready_letters(
        db, make_request, clock.now - timedelta(hours=2), clock.now - timedelta(hours=1)
    )
    printer = FakePrinter()
    b = batcher(db, printer, clock)
    (batch_id,) = await b.collect()
    # The printer took the upload and sent a receipt for one letter; the worker died before recording the upload.
    with db.unit_of_work() as conn:
        store.set_state(conn, despatched.payload.notification_id, "despatched")
    await b.upload_next()
    assert printer.uploads == [(str(batch_id), [(nid(despatched), "second"), (nid(waiting), "second")])]
    assert state_of(db, despatched.payload.notification_id) == "despatched"  # not moved back to "sent"
    assert state_of(db, waiting.payload.notification_id) == "sent"
    assert (nid(despatched), "sending") not in outbox_statuses(db)
    assert (nid(waiting), "sending") in outbox_statuses(db)
    with db.engine.connect() as conn:
        assert conn.execute(select(batches.c.state)).scalar_one() == "sent"
