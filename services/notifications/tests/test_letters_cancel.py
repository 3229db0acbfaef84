"""Cancelling letters (behaviour.md §8, admin-api.md §9): the 17:30 London rule, every refusal, the announcement."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from notify_contracts import decode
from notify_notifications.adapters.tables import metadata, notifications, outbox
from notify_notifications.domain.letters import cancel_deadline, too_late_to_cancel
from notify_notifications.entrypoints.admin_notifications import cancel_letter
from notify_notifications.entrypoints.errors import AdminError
from notify_platform.db import Database
from notify_tools.testing import Infra, scratch_database
from sqlalchemy import select

LONDON = ZoneInfo("Europe/London")


def london(*args: int) -> datetime:
    return datetime(*args, tzinfo=LONDON)


@pytest.mark.parametrize(
    ("created", "deadline"),
    [
        (london(2026, 3, 3, 9, 0), london(2026, 3, 3, 17, 30)),
        (london(2026, 3, 3, 17, 29, 59), london(2026, 3, 3, 17, 30)),
        (london(2026, 3, 3, 17, 30), london(2026, 3, 4, 17, 30)),
        (london(2026, 3, 3, 23, 59), london(2026, 3, 4, 17, 30)),
        # 17:00 UTC in British Summer Time is 18:00 in London: after the cut-off.
        (datetime(2026, 7, 1, 17, 0, tzinfo=UTC), london(2026, 7, 2, 17, 30)),
        # The same UTC time in winter is 17:00 in London: before it.
        (datetime(2026, 1, 6, 17, 0, tzinfo=UTC), london(2026, 1, 6, 17, 30)),
    ],
)
def test_the_cut_off_that_applies_to_a_letter(created: datetime, deadline: datetime) -> None:
    assert cancel_deadline(created) == deadline


def test_too_late_messages_name_today_or_the_day() -> None:
    created = london(2026, 3, 3, 10, 0)
    assert too_late_to_cancel(created, london(2026, 3, 3, 17, 29)) is None
    assert too_late_to_cancel(created, london(2026, 3, 3, 17, 30)) == (
        "It’s too late to cancel this letter. Printing started today at 5.30pm"
    )
    assert too_late_to_cancel(created, london(2026, 3, 5, 9, 0)) == (
        "It’s too late to cancel this letter. Printing started on 3 March at 5.30pm"
    )
    evening = london(2026, 3, 3, 18, 0)
    assert too_late_to_cancel(evening, london(2026, 3, 4, 17, 0)) is None
    assert too_late_to_cancel(evening, london(2026, 3, 4, 18, 0)).endswith("started today at 5.30pm")  # type: ignore[union-attr]


@pytest.fixture
def db(infra: Infra) -> Iterator[Database]:
    with scratch_database(infra, metadata, "cancel") as database:
        yield database


SERVICE = uuid.uuid4()
NOW = london(2026, 3, 3, 12, 0)


def _notification(db: Database, **values: Any) -> uuid.UUID:
    nid = uuid.uuid4()
    row = {
        "id": nid,
        "service_id": SERVICE,
        "template_id": uuid.uuid4(),
        "template_version": 1,
        "notification_type": "letter",
        "key_type": "normal",
        "recipient": "A\nB\nSW1A 1AA",
        "normalised_recipient": "A, B, SW1A 1AA",
        "status": "created",
        "body": "Hi",
        "postage": "second",
        "created_at": NOW - timedelta(hours=1),
    } | values
    with db.unit_of_work() as conn:
        conn.execute(notifications.insert().values(**row))
    return nid


def _cancel(db: Database, nid: uuid.UUID, service: uuid.UUID = SERVICE, now: datetime = NOW) -> Any:
    with db.unit_of_work() as conn:
        return cancel_letter(conn, service, nid, now)


def _refusal(db: Database, nid: uuid.UUID, **kwargs: Any) -> tuple[int, Any]:
    with pytest.raises(AdminError) as caught:
        _cancel(db, nid, **kwargs)
    return caught.value.status_code, caught.value.message


@pytest.mark.integration
@pytest.mark.parametrize("status", ["created", "pending-virus-check"])
def test_a_letter_before_its_cut_off_is_cancelled_and_announced(db: Database, status: str) -> None:
    nid = _notification(db, status=status)
    result = _cancel(db, nid)
    assert (result["id"], result["status"]) == (str(nid), "cancelled")
    with db.engine.connect() as conn:
        assert conn.execute(select(notifications.c.status).where(notifications.c.id == nid)).scalar_one() == (
            "cancelled"
        )
        event, take_out_of_print = [
            decode(bytes(b)) for b in conn.execute(select(outbox.c.body).order_by(outbox.c.id)).scalars()
        ]
    assert event.routing_key == "notification.status_changed.v1"
    assert (event.payload.previous_status, event.payload.status) == (status, "cancelled")
    assert event.payload.notification_type == "letter"
    assert take_out_of_print.routing_key == "letter.cancelled.v1"
    assert (take_out_of_print.payload.notification_id, take_out_of_print.payload.service_id) == (nid, SERVICE)


@pytest.mark.integration
def test_every_refusal_has_the_documented_message(db: Database) -> None:
    assert _refusal(db, uuid.uuid4()) == (404, "Notification not found")
    other_service = _notification(db)
    assert _refusal(db, other_service, service=uuid.uuid4()) == (404, "Notification not found")
    sms = _notification(db, notification_type="sms")
    assert _refusal(db, sms) == (400, "Notification cannot be cancelled - only letters can be cancelled")
    done = _notification(db, status="cancelled")
    assert _refusal(db, done) == (400, "This letter has already been cancelled.")
    late = _notification(db)
    assert _refusal(db, late, now=london(2026, 3, 3, 17, 31)) == (
        400,
        "It’s too late to cancel this letter. Printing started today at 5.30pm",
    )
    sent = _notification(db, status="sending", created_at=datetime(2026, 3, 3, 10, 5, 1, tzinfo=UTC))
    assert _refusal(db, sent) == (
        400,
        "We could not cancel this letter. Letter status: sending, created_at: 2026-03-03 10:05:01",
    )
    with db.engine.connect() as conn:
        assert conn.execute(select(outbox.c.id)).first() is None  # a refusal announces nothing
