"""The pure rules: rendering and page counts, precompiled checks, the print schedule, batching, receipts."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from notify_delivery_letter.adapters.print_wire import (
    BatchLetter,
    MalformedBatch,
    build_archive,
    read_archive,
)
from notify_delivery_letter.adapters.scanner import EICAR_SIGNATURE, EicarScanner
from notify_delivery_letter.domain.batching import split_batches
from notify_delivery_letter.domain.letters import check_precompiled, render_templated
from notify_delivery_letter.domain.receipts import apply_receipt
from notify_delivery_letter.domain.schedule import LONDON, BatchSchedule
from notify_delivery_letter.settings import Settings
from pypdf import PdfReader


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


# --- templated letters ---------------------------------------------------------------------------------------
def test_a_templated_letter_is_rendered_with_its_page_count_and_dated_in_london(make_request) -> None:
    # 23:30 UTC on 30 June is already 1 July in London (BST).
    request = make_request(created_at=datetime(2025, 6, 30, 23, 30, tzinfo=UTC)).payload
    prepared = render_templated(request)
    assert prepared.failure is None
    assert (prepared.page_count, prepared.sheets, prepared.postage) == (1, 1, "second")
    text = _text(prepared.pdf)
    assert "1 July 2025" in text and "30 June" not in text
    assert "About your licence" in text and "Licensing team" in text and "SW1A 1AA" in text


def test_pages_and_sheets_are_counted(make_request) -> None:
    body = "\n\n---\n\n".join(f"Part {n}" for n in range(3))
    prepared = render_templated(make_request(body=body).payload)
    assert (prepared.page_count, prepared.sheets) == (3, 2)


def test_a_letter_over_ten_pages_fails_validation_with_its_page_count(make_request) -> None:
    body = "\n\n---\n\n".join(f"Part {n}" for n in range(11))
    prepared = render_templated(make_request(body=body).payload)
    assert prepared.failure == "validation-failed"
    assert prepared.page_count == 11 and prepared.pdf is None
    assert prepared.detail == (
        "Letters must be 10 pages or less (5 double-sided sheets of paper). This letter is 11 pages long."
    )
    ten = render_templated(make_request(body="\n\n---\n\n".join("x" * n for n in range(1, 11))).payload)
    assert (ten.failure, ten.page_count, ten.sheets) == (None, 10, 5)


# --- precompiled letters -----------------------------------------------------------------------------------------
def test_a_precompiled_letter_with_the_eicar_signature_fails_the_virus_scan(make_request, make_pdf) -> None:
    assert check_precompiled(make_request(precompiled=True).payload, make_pdf(), infected=True).failure == (
        "virus-scan-failed"
    )


async def test_the_eicar_scanner_flags_only_the_eicar_signature(make_pdf) -> None:
    scanner = EicarScanner()
    assert (await scanner.scan(make_pdf())).infected is False
    infected = await scanner.scan(make_pdf() + b"\n" + EICAR_SIGNATURE)
    assert infected.infected and infected.signature == "EICAR-Test-File"


@pytest.mark.parametrize(
    ("pdf", "reason"),
    [
        (b"not a pdf", "Letter content is not a valid PDF"),
        (
            None,
            "Letters must be 10 pages or less (5 double-sided sheets of paper). This letter is 11 pages long.",
        ),
    ],
)
def test_a_precompiled_letter_that_breaks_the_spec_fails_validation_with_the_reason(
    make_request, make_pdf, pdf: bytes | None, reason: str
) -> None:
    prepared = check_precompiled(
        make_request(precompiled=True).payload, pdf or make_pdf(pages=11), infected=False
    )
    assert (prepared.failure, prepared.detail) == ("validation-failed", reason)


def test_a_precompiled_letter_without_an_address_fails_validation(make_request) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen.canvas import Canvas

    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4)
    canvas.drawString(100, 100, "No address here")
    canvas.save()
    prepared = check_precompiled(make_request(precompiled=True).payload, buffer.getvalue(), infected=False)
    assert prepared.failure == "validation-failed"
    assert prepared.detail.startswith("The address in the address window is not valid")


def test_a_valid_precompiled_letter_reports_its_address_postage_and_sheets(make_request, make_pdf) -> None:
    request = make_request(precompiled=True, postage="first").payload
    prepared = check_precompiled(request, make_pdf(pages=3), infected=False)
    assert prepared.failure is None
    assert prepared.recipient == "Ada Lovelace\n1 High Street\nSW1A 1AA"
    assert (prepared.report_postage, prepared.postage, prepared.page_count, prepared.sheets) == (
        "first",
        "first",
        3,
        2,
    )
    assert prepared.pdf is None  # the uploaded PDF is the letter

    abroad = make_pdf(address=["Ada Lovelace", "1 Rue de la Paix", "75002 Paris", "France"])
    assert check_precompiled(request, abroad, infected=False).report_postage == "europe"
    far = make_pdf(address=["Ada Lovelace", "1 George Street", "Sydney", "Australia"])
    assert check_precompiled(request, far, infected=False).report_postage == "rest-of-world"


# --- schedule ---------------------------------------------------------------------------------------------------
def _london(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=LONDON)


TUESDAY_WINTER, TUESDAY_SUMMER, SATURDAY = date(2025, 1, 14), date(2025, 7, 15), date(2025, 7, 19)


@pytest.mark.parametrize("day", [TUESDAY_WINTER, TUESDAY_SUMMER])
def test_the_daily_run_is_due_from_the_batch_time_with_that_days_cutoff(day: date) -> None:
    schedule = BatchSchedule()
    assert schedule.due_run(_london(day, time(17, 49, 59))) is None
    run = schedule.due_run(_london(day, time(17, 50)))
    assert run is not None and run.print_day == day
    assert run.cutoff == _london(day, time(17, 30))
    assert run.cutoff.astimezone(UTC).hour == (17 if day.month == 1 else 16)  # GMT / BST
    late = schedule.due_run(_london(day, time(23, 0)))  # a scheduler that was down catches up the same day
    assert late is not None and late.cutoff == run.cutoff


def test_no_run_on_weekends_and_printer_holidays() -> None:
    assert BatchSchedule().due_run(_london(SATURDAY, time(18, 0))) is None
    assert (
        BatchSchedule(holidays=frozenset({TUESDAY_SUMMER})).due_run(_london(TUESDAY_SUMMER, time(18))) is None
    )


def test_interval_mode_collects_everything_ready_now() -> None:
    schedule = BatchSchedule(interval_seconds=2)
    now = datetime(2025, 7, 19, 3, 0, tzinfo=UTC)  # a Saturday night: interval mode ignores the calendar
    run = schedule.due_run(now)
    assert run is not None and (run.cutoff, run.print_day) == (now, None)
    assert schedule.seconds_to_wait(now) == 2


def test_the_daily_scheduler_never_sleeps_past_the_batch_time() -> None:
    schedule = BatchSchedule()
    assert schedule.seconds_to_wait(_london(TUESDAY_WINTER, time(17, 49, 50))) == pytest.approx(10)
    assert schedule.seconds_to_wait(_london(TUESDAY_WINTER, time(12))) == 30


def test_settings_parse_the_schedule_and_refuse_unsafe_values() -> None:
    settings = Settings(letter_print_holidays="2025-12-25, 2025-12-26", letter_print_cutoff="17:00")
    assert settings.print_holidays == {date(2025, 12, 25), date(2025, 12, 26)}
    assert settings.letter_print_cutoff == time(17, 0)
    with pytest.raises(ValueError, match="LEASE"):
        Settings(print_upload_timeout_seconds=30, print_upload_lease_seconds=30)
    with pytest.raises(ValueError, match="https"):
        Settings(environment="production", print_provider_password="x" * 20, print_receipt_password="y" * 20)
    with pytest.raises(ValueError, match="PRINT_PROVIDER_PASSWORD"):
        Settings(environment="production", print_provider_url="https://print.example")


# --- batching and the wire format ---------------------------------------------------------------------------------
def test_batches_are_cut_by_letter_count_and_bytes() -> None:
    letters = [(n, 10) for n in range(7)]
    assert split_batches(letters, max_letters=3, max_bytes=1000) == [[0, 1, 2], [3, 4, 5], [6]]
    assert split_batches(letters, max_letters=100, max_bytes=25) == [[0, 1], [2, 3], [4, 5], [6]]
    assert split_batches([("big", 99), ("small", 1)], max_letters=10, max_bytes=50) == [["big"], ["small"]]
    assert split_batches([], max_letters=1, max_bytes=1) == []


def test_the_batch_archive_carries_the_manifest_with_postage_and_the_pdfs(make_pdf) -> None:
    pdf = make_pdf()
    letters = [BatchLetter("a", "first", 1, 2, pdf), BatchLetter("b", "europe", 3, 5, pdf)]
    manifest, read = read_archive(build_archive("batch-1", datetime.now(UTC), letters))
    assert manifest["batch_id"] == "batch-1"
    assert [(x["notification_id"], x["postage"], x["sheets"]) for x in manifest["letters"]] == [
        ("a", "first", 1),
        ("b", "europe", 3),
    ]
    assert read == letters
    with pytest.raises(MalformedBatch):
        read_archive(b"PK not really a zip")
    with pytest.raises(MalformedBatch, match="postage"):
        read_archive(build_archive("b", datetime.now(UTC), [BatchLetter("a", "pigeon", 1, 1, pdf)]))


# --- receipts ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("state", "code", "expected"),
    [
        ("sent", "DESPATCHED", ("despatched", "delivered")),
        ("sent", "REJECTED", ("rejected", "technical-failure")),
        ("sent", "RETURNED", ("returned", "returned-letter")),
        ("despatched", "RETURNED", ("returned", "returned-letter")),
        ("batched", "DESPATCHED", ("despatched", "delivered")),  # the upload's record was lost in a crash
        ("despatched", "DESPATCHED", None),  # a duplicate
        ("despatched", "REJECTED", None),  # late, contradicting a final status
        ("rejected", "DESPATCHED", None),
        ("returned", "DESPATCHED", None),  # out of order: the return came first
        ("returned", "RETURNED", None),
        ("rejected", "RETURNED", None),
        ("cancelled", "DESPATCHED", None),
    ],
)
def test_receipts_only_move_a_letter_forward(state: str, code: str, expected: Any) -> None:
    assert apply_receipt(state, code) == expected


def test_the_london_timezone_is_real() -> None:
    assert datetime(2025, 7, 1, 12, tzinfo=LONDON).utcoffset() == timedelta(hours=1)
