"""Received texts against a real PostgreSQL: matched to the service owning the active inbound number it was sent to,
stored once however often it is delivered, its callback queued in the same transaction when the service wants one;
texts to unknown, unassigned or inactive numbers, or for a service without the permission, are dropped."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from notify_contracts import SmsReceivedV1, new_envelope
from notify_notifications.adapters.tables import (
    callback_deliveries,
    inbound_numbers,
    inbound_sms,
    metadata,
    service_callback_api,
)
from notify_notifications.handlers.inbound import national_number, sender_number, store_received
from notify_platform.db import Database
from notify_tools.testing import Infra, scratch_database
from sqlalchemy import select
from structlog.testing import capture_logs

from .rows import add_user_and_service

pytestmark = pytest.mark.integration

RECEIVED_AT = datetime(2026, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)


@pytest.fixture
def db(infra: Infra) -> Iterator[Database]:
    with scratch_database(infra, metadata, "inbound") as database:
        yield database


def _service(db: Database, *, permissions: list[str], number: str | None, active: bool = True) -> uuid.UUID:
    with db.unit_of_work() as conn:
        user_id, sid = add_user_and_service(conn, permissions=permissions)
        if number is not None:
            conn.execute(
                inbound_numbers.insert().values(
                    id=uuid.uuid4(), number=number, provider="mmg", service_id=sid, active=active
                )
            )
        conn.execute(
            service_callback_api.insert().values(
                id=uuid.uuid4(),
                service_id=sid,
                callback_type="inbound_sms",
                url="https://example.gov.uk/inbound",
                bearer_token_encrypted=b"x",
                updated_by_id=user_id,
            )
        )
    return sid


def _received(destination: str, **overrides: Any) -> Any:
    payload = SmsReceivedV1(
        **{
            "inbound_id": uuid.uuid4(),
            "provider": "mmg",
            "provider_reference": "ref-1",
            "destination_number": destination,
            "source_number": "07700 900123",
            "message": "Hello there",
            "received_at": RECEIVED_AT,
            **overrides,
        }
    )
    return new_envelope(payload, producer="test", correlation_id="c")


def _rows(db: Database, table: Any) -> list[Any]:
    with db.engine.connect() as conn:
        return list(conn.execute(select(table)))


def test_numbers_are_matched_nationally_and_senders_normalised() -> None:
    assert national_number("447700900456") == "07700900456"
    assert national_number("+44 7700 900456") == "07700900456"
    assert national_number("07700900456") == "07700900456"
    assert national_number("60604") == "60604"
    assert sender_number("07700 900123") == "447700900123"
    assert sender_number("+1 202 555 0123") == "12025550123"
    assert sender_number("GOVUK") == "GOVUK"


def test_a_text_is_stored_for_the_numbers_service_and_its_callback_queued(db: Database) -> None:
    sid = _service(db, permissions=["sms", "inbound_sms"], number="07700900456")
    event = _received("447700900456")
    with db.unit_of_work() as conn:
        assert store_received(conn, [event]) == 1
    (row,) = _rows(db, inbound_sms)
    assert (row.id, row.service_id, row.notify_number, row.user_number, row.content) == (
        event.payload.inbound_id,
        sid,
        "07700900456",
        "447700900123",
        "Hello there",
    )
    assert (row.provider_date, row.provider_reference) == (RECEIVED_AT, "ref-1")
    (callback,) = _rows(db, callback_deliveries)
    assert (callback.service_id, callback.callback_type, callback.state) == (sid, "inbound_sms", "pending")
    assert callback.payload == {
        "id": str(event.payload.inbound_id),
        "source_number": "447700900123",
        "destination_number": "07700900456",
        "message": "Hello there",
        "date_received": "2026-05-01T10:00:00.123456Z",
    }


def test_the_same_text_delivered_again_is_stored_and_called_back_once(db: Database) -> None:
    _service(db, permissions=["sms", "inbound_sms"], number="07700900456")
    event = _received("447700900456")
    with db.unit_of_work() as conn:
        assert store_received(conn, [event, event]) == 1
    with db.unit_of_work() as conn:
        assert store_received(conn, [event]) == 0
    assert len(_rows(db, inbound_sms)) == 1
    assert len(_rows(db, callback_deliveries)) == 1


def test_texts_nobody_may_receive_are_dropped_without_logging_numbers_or_content(db: Database) -> None:
    _service(db, permissions=["sms"], number="07700900111")  # no inbound_sms permission
    _service(db, permissions=["sms", "inbound_sms"], number="07700900222", active=False)  # switched off
    with db.unit_of_work() as conn:
        conn.execute(
            inbound_numbers.insert().values(id=uuid.uuid4(), number="07700900333", provider="mmg")
        )  # in the pool, not assigned
    events = [_received(n) for n in ("447700900111", "447700900222", "447700900333", "447700900999")]
    with capture_logs() as logs, db.unit_of_work() as conn:
        assert store_received(conn, events) == 0
    assert _rows(db, inbound_sms) == [] and _rows(db, callback_deliveries) == []
    assert [entry["event"] for entry in logs] == [
        "notifications.inbound_sms.not_permitted",
        "notifications.inbound_sms.unknown_number",
        "notifications.inbound_sms.unknown_number",
        "notifications.inbound_sms.unknown_number",
    ]
    logged = repr(logs)
    assert "7700900" not in logged and "Hello" not in logged


def test_no_callback_without_a_configuration_and_a_batch_serves_each_service(db: Database) -> None:
    first = _service(db, permissions=["inbound_sms"], number="07700900401")
    second = _service(db, permissions=["inbound_sms"], number="07700900402")
    with db.unit_of_work() as conn:
        conn.execute(service_callback_api.delete().where(service_callback_api.c.service_id == second))
    events = [_received("447700900401"), _received("447700900402"), _received("447700900401")]
    with db.unit_of_work() as conn:
        assert store_received(conn, events) == 2
    stored = {row.id: row.service_id for row in _rows(db, inbound_sms)}
    assert stored == {
        e.payload.inbound_id: sid for e, sid in zip(events, [first, second, first], strict=True)
    }
    assert {row.service_id for row in _rows(db, callback_deliveries)} == {first}
