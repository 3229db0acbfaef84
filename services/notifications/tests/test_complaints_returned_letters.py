"""Complaints and returned letters against a real PostgreSQL: each stored once, its callback queued in the same
transaction (only when the service configured that type), a return moving the letter by the status rules and
announced, unknown notifications refused so they are retried."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from notify_contracts import EmailComplaintReceivedV1, LetterReturnedV1, decode, new_envelope
from notify_notifications.adapters.tables import (
    callback_deliveries,
    complaints,
    metadata,
    notifications,
    outbox,
    returned_letters,
    service_callback_api,
    template_versions,
)
from notify_notifications.handlers.complaints import store_complaints
from notify_notifications.handlers.returned_letters import apply_returns
from notify_notifications.handlers.statuses import UnknownNotification
from notify_platform.db import Database
from notify_tools.testing import Infra, scratch_database
from sqlalchemy import select

from .rows import add_user_and_service

pytestmark = pytest.mark.integration

SENT = datetime(2026, 3, 2, 9, 30, 15, 123456, tzinfo=UTC)


@pytest.fixture
def db(infra: Infra) -> Iterator[Database]:
    with scratch_database(infra, metadata, "complaints") as database:
        yield database


@pytest.fixture
def world(db: Database) -> dict[str, Any]:
    """A service with a user, a letter template (v1 "Old name", v2 "Rent reminder") and a hidden precompiled one."""
    template_id, hidden_id = uuid.uuid4(), uuid.uuid4()
    with db.unit_of_work() as conn:
        user_id, sid = add_user_and_service(
            conn, permissions=("email", "letter"), email_address="sender@example.gov.uk"
        )
        for tid, version, name, hidden in (
            (template_id, 1, "Old name", False),
            (template_id, 2, "Rent reminder", False),
            (hidden_id, 1, "Pre-compiled PDF", True),
        ):
            conn.execute(
                template_versions.insert().values(
                    id=tid,
                    version=version,
                    name=name,
                    template_type="letter",
                    content="Dear ((name))",
                    subject="Hello",
                    archived=False,
                    hidden=hidden,
                    has_unsubscribe_link=False,
                    service_id=sid,
                    created_by_id=user_id,
                    created_at=SENT,
                )
            )
    return {"user_id": user_id, "service_id": sid, "template_id": template_id, "hidden_id": hidden_id}


def _configure(db: Database, world: dict[str, Any], callback_type: str) -> None:
    with db.unit_of_work() as conn:
        conn.execute(
            service_callback_api.insert().values(
                id=uuid.uuid4(),
                service_id=world["service_id"],
                callback_type=callback_type,
                url="https://example.gov.uk/callback",
                bearer_token_encrypted=b"x",
                updated_by_id=world["user_id"],
            )
        )


def _notification(db: Database, world: dict[str, Any], **values: Any) -> uuid.UUID:
    nid = uuid.uuid4()
    row = {
        "id": nid,
        "service_id": world["service_id"],
        "template_id": world["template_id"],
        "template_version": 2,
        "notification_type": "letter",
        "key_type": "normal",
        "recipient": "A Person\n1 Street\nSW1A 1AA",
        "normalised_recipient": "A Person, 1 Street, SW1A 1AA",
        "status": "delivered",
        "body": "Dear A",
        "created_at": SENT,
        "sent_at": SENT + timedelta(hours=9),
        **values,
    }
    with db.unit_of_work() as conn:
        conn.execute(notifications.insert().values(**row))
    return nid


def _complaint(nid: uuid.UUID, service_id: uuid.UUID, complaint_id: uuid.UUID | None = None) -> Any:
    payload = EmailComplaintReceivedV1(
        complaint_id=complaint_id or uuid.uuid4(),
        notification_id=nid,
        service_id=service_id,
        complained_at=datetime(2026, 3, 3, 10, 0, 0, 5, tzinfo=UTC),
        provider_reference="ref-1",
    )
    return new_envelope(payload, producer="test", correlation_id="c")


def _returned(nid: uuid.UUID, at: datetime | None = None) -> Any:
    payload = LetterReturnedV1(notification_id=nid, reported_at=at or datetime(2026, 3, 9, 12, tzinfo=UTC))
    return new_envelope(payload, producer="test", correlation_id="c")


def _run(db: Database, fn: Any) -> Any:
    with db.unit_of_work() as conn:
        return fn(conn)


def _callbacks(db: Database) -> list[Any]:
    with db.engine.connect() as conn:
        return list(conn.execute(select(callback_deliveries).order_by(callback_deliveries.c.created_at)))


def _changes(db: Database) -> list[Any]:
    with db.engine.connect() as conn:
        events = [
            decode(bytes(b)) for b in conn.execute(select(outbox.c.body).order_by(outbox.c.id)).scalars()
        ]
    return [e.payload for e in events if e.type == "notification.status_changed"]


def _status(db: Database, nid: uuid.UUID) -> str:
    with db.engine.connect() as conn:
        return conn.execute(select(notifications.c.status).where(notifications.c.id == nid)).scalar_one()


# --- complaints ----------------------------------------------------------------------------------------------------
def test_a_complaint_is_stored_once_with_one_callback_and_the_status_unchanged(
    db: Database, world: dict[str, Any]
) -> None:
    _configure(db, world, "complaint")
    nid = _notification(
        db,
        world,
        notification_type="email",
        recipient="Someone@Example.com",
        normalised_recipient="someone@example.com",
        client_reference="my-ref",
    )
    event = _complaint(nid, world["service_id"])
    assert _run(db, lambda c: store_complaints(c, [event, event])) == 1
    assert _run(db, lambda c: store_complaints(c, [event])) == 0
    with db.engine.connect() as conn:
        (stored,) = conn.execute(select(complaints)).all()
    assert (stored.id, stored.notification_id, stored.service_id) == (
        event.payload.complaint_id,
        nid,
        world["service_id"],
    )
    assert stored.provider_reference == "ref-1"
    assert _status(db, nid) == "delivered"
    assert _changes(db) == []
    (callback,) = _callbacks(db)
    assert callback.callback_type == "complaint"
    assert callback.payload == {
        "notification_id": str(nid),
        "complaint_id": str(event.payload.complaint_id),
        "reference": "my-ref",
        "to": "Someone@Example.com",
        "complaint_date": "2026-03-03T10:00:00.000005Z",
    }


def test_a_complaint_without_a_configured_callback_is_still_stored(
    db: Database, world: dict[str, Any]
) -> None:
    nid = _notification(db, world, notification_type="email", recipient="a@example.com")
    assert _run(db, lambda c: store_complaints(c, [_complaint(nid, world["service_id"])])) == 1
    assert _callbacks(db) == []


def test_a_complaint_about_an_unknown_notification_is_refused_so_it_is_retried(
    db: Database, world: dict[str, Any]
) -> None:
    known = _notification(db, world, notification_type="email", recipient="a@example.com")
    batch = [_complaint(known, world["service_id"]), _complaint(uuid.uuid4(), world["service_id"])]
    with pytest.raises(UnknownNotification):
        _run(db, lambda c: store_complaints(c, batch))
    with db.engine.connect() as conn:
        assert conn.execute(select(complaints)).all() == []  # nothing half-stored: the batch is retried whole


# --- returned letters ----------------------------------------------------------------------------------------------
def test_a_returned_letter_sent_through_the_api_is_recorded_announced_and_called_back_once(
    db: Database, world: dict[str, Any]
) -> None:
    _configure(db, world, "returned_letter")
    nid = _notification(db, world, api_key_id=uuid.uuid4(), client_reference="api-ref")
    event = _returned(nid)
    assert _run(db, lambda c: apply_returns(c, [event, event])) == 1
    assert (
        _run(db, lambda c: apply_returns(c, [_returned(nid, event.payload.reported_at + timedelta(days=1))]))
        == 0
    )
    assert _status(db, nid) == "returned-letter"
    (change,) = _changes(db)
    assert (change.previous_status, change.status, change.notification_type) == (
        "delivered",
        "returned-letter",
        "letter",
    )
    assert change.completed_at == event.payload.reported_at
    with db.engine.connect() as conn:
        (recorded,) = conn.execute(select(returned_letters)).all()
    assert (recorded.notification_id, recorded.service_id, recorded.reported_at) == (
        nid,
        world["service_id"],
        event.payload.reported_at,
    )
    (callback,) = _callbacks(db)
    assert callback.callback_type == "returned_letter"
    assert callback.payload == {
        "notification_id": str(nid),
        "reference": "api-ref",
        "date_sent": "2026-03-02T09:30:15.123456Z",
        "sent_by": "API",
        "template_name": "Rent reminder",
        "template_id": str(world["template_id"]),
        "template_version": 2,
        "spreadsheet_file_name": None,
        "spreadsheet_row_number": None,
        "upload_letter_file_name": None,
    }


def test_a_returned_job_letter_names_its_sender_and_row(db: Database, world: dict[str, Any]) -> None:
    _configure(db, world, "returned_letter")
    nid = _notification(
        db,
        world,
        created_by_id=world["user_id"],
        job_id=uuid.uuid4(),
        job_row_number=0,
        template_version=1,
        client_reference="not-shown",
        status="sending",
    )
    assert _run(db, lambda c: apply_returns(c, [_returned(nid)])) == 1
    assert _status(db, nid) == "returned-letter"
    (callback,) = _callbacks(db)
    payload = callback.payload
    assert payload["sent_by"] == "sender@example.gov.uk"
    assert payload["reference"] is None
    assert (payload["template_name"], payload["template_version"]) == ("Old name", 1)
    assert payload["spreadsheet_row_number"] == 2  # the header is row 1
    assert (
        payload["spreadsheet_file_name"] is None
    )  # kept by the jobs service (see handlers.returned_letters)


def test_a_returned_precompiled_letter_has_no_template(db: Database, world: dict[str, Any]) -> None:
    _configure(db, world, "returned_letter")
    nid = _notification(
        db, world, template_id=world["hidden_id"], template_version=1, api_key_id=uuid.uuid4()
    )
    _run(db, lambda c: apply_returns(c, [_returned(nid)]))
    (callback,) = _callbacks(db)
    assert (
        callback.payload["template_name"],
        callback.payload["template_id"],
        callback.payload["template_version"],
    ) == (None, None, None)


def test_a_letter_already_returned_by_a_receipt_is_recorded_and_called_back_without_a_second_change(
    db: Database, world: dict[str, Any]
) -> None:
    _configure(db, world, "returned_letter")
    nid = _notification(db, world, status="returned-letter", api_key_id=uuid.uuid4())
    assert _run(db, lambda c: apply_returns(c, [_returned(nid)])) == 1
    assert _changes(db) == []
    assert len(_callbacks(db)) == 1


@pytest.mark.parametrize("status", ["technical-failure", "cancelled", "validation-failed"])
def test_a_letter_never_printed_is_not_returned(db: Database, world: dict[str, Any], status: str) -> None:
    _configure(db, world, "returned_letter")
    nid = _notification(db, world, status=status)
    assert _run(db, lambda c: apply_returns(c, [_returned(nid)])) == 0
    assert _status(db, nid) == status
    assert _changes(db) == [] and _callbacks(db) == []


def test_a_return_for_an_email_changes_nothing(db: Database, world: dict[str, Any]) -> None:
    nid = _notification(db, world, notification_type="email", recipient="a@example.com")
    assert _run(db, lambda c: apply_returns(c, [_returned(nid)])) == 0
    assert _status(db, nid) == "delivered"


def test_a_return_for_an_unknown_notification_is_refused_so_it_is_retried(
    db: Database, world: dict[str, Any]
) -> None:
    known = _notification(db, world)
    with pytest.raises(UnknownNotification):
        _run(db, lambda c: apply_returns(c, [_returned(known), _returned(uuid.uuid4())]))
    assert _status(db, known) == "delivered"
