"""The stuck-notification sweep: only texts and emails still in flight past the timeout, each announced once."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from notify_contracts import decode
from notify_notifications.adapters.tables import metadata, notifications, outbox
from notify_notifications.handlers.sweep import time_out_stuck
from notify_platform.db import Database
from notify_tools.testing import Infra, scratch_database
from sqlalchemy import select

pytestmark = pytest.mark.integration
NOW = datetime(2026, 3, 10, 0, 5, tzinfo=UTC)
TIMEOUT = timedelta(days=3)


@pytest.fixture
def db(infra: Infra) -> Iterator[Database]:
    with scratch_database(infra, metadata, "sweep") as database:
        yield database


def _add(db: Database, status: str, age: timedelta, kind: str = "sms") -> uuid.UUID:
    nid = uuid.uuid4()
    with db.unit_of_work() as conn:
        conn.execute(
            notifications.insert().values(
                id=nid,
                service_id=uuid.uuid4(),
                template_id=uuid.uuid4(),
                template_version=1,
                notification_type=kind,
                key_type="normal",
                recipient="x",
                normalised_recipient="x",
                status=status,
                body="b",
                created_at=NOW - age,
            )
        )
    return nid


def _statuses(db: Database) -> dict[uuid.UUID, str]:
    with db.engine.connect() as conn:
        return {r.id: r.status for r in conn.execute(select(notifications.c.id, notifications.c.status))}


def _sweep(db: Database, **kwargs: Any) -> int:
    with db.unit_of_work() as conn:
        return time_out_stuck(conn, timeout=TIMEOUT, now=NOW, **kwargs)


def test_only_texts_and_emails_in_flight_past_the_timeout_move(db: Database) -> None:
    old = TIMEOUT + timedelta(minutes=1)
    stuck_sms = _add(db, "sending", old)
    stuck_email = _add(db, "pending", old, "email")
    young = _add(db, "sending", TIMEOUT - timedelta(minutes=1))
    delivered = _add(db, "delivered", old)
    created = _add(db, "created", old)
    letter = _add(db, "sending", old, "letter")

    assert _sweep(db) == 2
    assert _sweep(db) == 0  # the second pass finds nothing: each change is announced once
    after = _statuses(db)
    assert after[stuck_sms] == after[stuck_email] == "temporary-failure"
    assert (after[young], after[delivered], after[created], after[letter]) == (
        "sending",
        "delivered",
        "created",
        "sending",
    )
    with db.engine.connect() as conn:
        events = [decode(bytes(b)).payload for b in conn.execute(select(outbox.c.body)).scalars()]
    assert {(e.notification_id, e.previous_status, e.status) for e in events} == {
        (stuck_sms, "sending", "temporary-failure"),
        (stuck_email, "pending", "temporary-failure"),
    }
    assert all(e.completed_at == NOW for e in events)


def test_a_pass_is_bounded(db: Database) -> None:
    for _ in range(5):
        _add(db, "sending", TIMEOUT * 2)
    assert _sweep(db, limit=3) == 3
    assert _sweep(db, limit=3) == 2
