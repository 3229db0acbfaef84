"""The one builder of status reports: fields carried, order kept even across a second boundary."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from notify_platform.outbox import outbox_table
from notify_platform.status_reports import StatusReports
from sqlalchemy import MetaData


def test_reports_made_together_keep_their_order_across_a_second_boundary() -> None:
    reports = StatusReports(
        "test", outbox_table(MetaData()), now=datetime(2026, 1, 1, 12, 0, 0, 999_999, UTC)
    )
    nid = uuid.uuid4()
    for status in ("created", "sending", "delivered"):
        reports.add(nid, status, correlation_id="c", causation_id="cause", provider="p", billable_units=2)
    payloads = [e.payload for e in reports.envelopes]
    assert [p.status for p in payloads] == ["created", "sending", "delivered"]
    times = [p.reported_at for p in payloads]
    assert times == sorted(times) and len(set(times)) == 3
    assert times[-1] == datetime(2026, 1, 1, 12, 0, 1, 1, UTC)
    assert {(p.provider, p.billable_units) for p in payloads} == {("p", 2)}
    assert {(e.producer, e.correlation_id, e.causation_id) for e in reports.envelopes} == {
        ("test", "c", "cause")
    }


def test_a_missing_correlation_id_gets_a_fresh_one() -> None:
    reports = StatusReports("test", outbox_table(MetaData()))
    reports.add(uuid.uuid4(), "sending", correlation_id=None).add(
        uuid.uuid4(), "sending", correlation_id=None
    )
    first, second = (e.correlation_id for e in reports.envelopes)
    assert first and second and first != second
