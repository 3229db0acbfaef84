"""The consumers' handlers against a real PostgreSQL: idempotent ingest, ordered and final-safe statuses."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from notify_contracts import NotificationRequestedV1, NotificationStatusReportedV1, decode, new_envelope
from notify_notifications.adapters.tables import metadata, notifications, outbox, services, users
from notify_notifications.handlers.ingest import ingest
from notify_notifications.handlers.statuses import UnknownNotification, apply_reports
from notify_platform.db import Database
from notify_tools.testing import Infra, scratch_database
from sqlalchemy import func, select

pytestmark = pytest.mark.integration


@pytest.fixture
def db(infra: Infra) -> Iterator[Database]:
    with scratch_database(infra, metadata, "handlers") as database:
        yield database


@pytest.fixture
def service_id(db: Database) -> uuid.UUID:
    user_id, sid = uuid.uuid4(), uuid.uuid4()
    with db.unit_of_work() as conn:
        conn.execute(
            users.insert().values(
                id=user_id, name="U", email_address=f"{user_id}@example.gov.uk", password_hash="x"
            )
        )
        conn.execute(
            services.insert().values(
                id=sid,
                name=f"S {sid}",
                email_sender_local_part=f"s.{sid}",
                permissions=["sms"],
                created_by_id=user_id,
            )
        )
    return sid


def _requested(service_id: uuid.UUID, notification_id: uuid.UUID | None = None) -> Any:
    payload = NotificationRequestedV1(
        notification_id=notification_id or uuid.uuid4(),
        service_id=service_id,
        notification_type="sms",
        template_id=uuid.uuid4(),
        template_version=1,
        recipient="07700 900123",
        normalised_recipient="447700900123",
        key_type="normal",
        created_at=datetime.now(UTC),
        body="Hello",
        sender="GOVUK",
    )
    return new_envelope(payload, producer="test", correlation_id="c")


def _report(notification_id: uuid.UUID, status: str, at: datetime) -> Any:
    payload = NotificationStatusReportedV1(notification_id=notification_id, status=status, reported_at=at)
    return new_envelope(payload, producer="test", correlation_id="c")


def _outbox(db: Database) -> list[Any]:
    with db.engine.connect() as conn:
        return [decode(bytes(b)) for b in conn.execute(select(outbox.c.body).order_by(outbox.c.id)).scalars()]


def test_ingest_is_idempotent_and_queues_one_delivery_with_the_service_prefix(
    db: Database, service_id: uuid.UUID
) -> None:
    event = _requested(service_id)
    assert db_run(db, lambda c: ingest(c, [event, event], email_domain="example")) == 1
    assert db_run(db, lambda c: ingest(c, [event], email_domain="example")) == 0
    with db.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(notifications)).scalar_one() == 1
    queued = _outbox(db)
    assert [e.routing_key for e in queued] == ["delivery.sms.requested.v1"]
    assert queued[0].payload.content == f"S {service_id}: Hello"
    assert queued[0].payload.to == "447700900123"
    assert queued[0].causation_id == str(event.event_id)


def test_statuses_apply_in_order_and_a_final_status_never_regresses(
    db: Database, service_id: uuid.UUID
) -> None:
    event = _requested(service_id)
    db_run(db, lambda c: ingest(c, [event], email_domain="example"))
    nid = event.payload.notification_id
    t0 = datetime.now(UTC)
    # Delivered arrives in the same batch as (but happened after) sending; a late "sending" comes afterwards.
    batch = [_report(nid, "delivered", t0 + timedelta(seconds=2)), _report(nid, "sending", t0)]
    assert db_run(db, lambda c: apply_reports(c, batch)) == 1
    assert db_run(db, lambda c: apply_reports(c, [_report(nid, "sending", t0 + timedelta(seconds=5))])) == 0
    assert db_run(db, lambda c: apply_reports(c, batch)) == 0
    with db.engine.connect() as conn:
        assert (
            conn.execute(select(notifications.c.status).where(notifications.c.id == nid)).scalar_one()
            == "delivered"
        )
    changes = [e.payload for e in _outbox(db) if e.type == "notification.status_changed"]
    assert [(c.previous_status, c.status) for c in changes] == [
        ("created", "sending"),
        ("sending", "delivered"),
    ]
    assert changes[-1].completed_at is not None


def test_a_report_for_an_unknown_notification_is_refused_so_it_is_retried(db: Database) -> None:
    with pytest.raises(UnknownNotification):
        db_run(db, lambda c: apply_reports(c, [_report(uuid.uuid4(), "delivered", datetime.now(UTC))]))


def db_run(db: Database, fn: Any) -> Any:
    with db.unit_of_work() as conn:
        return fn(conn)
