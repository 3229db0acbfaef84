"""The consumers' handlers against a real PostgreSQL: idempotent ingest, ordered and final-safe statuses."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from notify_contracts import NotificationRequestedV1, NotificationStatusReportedV1, decode, new_envelope
from notify_notifications.adapters.tables import (
    metadata,
    notifications,
    outbox,
    services,
    template_versions,
)
from notify_notifications.handlers.ingest import ingest
from notify_notifications.handlers.statuses import UnknownNotification, apply_reports
from notify_platform.db import Database
from notify_tools.testing import Infra, scratch_database
from sqlalchemy import func, select

from .rows import add_user_and_service

pytestmark = pytest.mark.integration


@pytest.fixture
def db(infra: Infra) -> Iterator[Database]:
    with scratch_database(infra, metadata, "handlers") as database:
        yield database


@pytest.fixture
def service_id(db: Database) -> uuid.UUID:
    with db.unit_of_work() as conn:
        return add_user_and_service(conn)[1]


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


def _letter(service_id: uuid.UUID, template_id: uuid.UUID, *, precompiled: bool = False) -> Any:
    payload = NotificationRequestedV1(
        notification_id=uuid.uuid4(),
        service_id=service_id,
        notification_type="letter",
        template_id=template_id,
        template_version=2,
        recipient="" if precompiled else "A Person\n1 Street\nSW1A 1AA",
        normalised_recipient="" if precompiled else "A Person, 1 Street, SW1A 1AA",
        key_type="normal",
        created_at=datetime.now(UTC),
        body="" if precompiled else "Dear A",
        subject=None if precompiled else "Hello",
        postage="first",
        address_lines=None if precompiled else ["A Person", "1 Street", "SW1A 1AA"],
        precompiled=precompiled,
    )
    return new_envelope(payload, producer="test", correlation_id="c")


@pytest.fixture
def letter_template(db: Database, service_id: uuid.UUID) -> uuid.UUID:
    template_id = uuid.uuid4()
    with db.unit_of_work() as conn:
        user_id = conn.execute(
            select(services.c.created_by_id).where(services.c.id == service_id)
        ).scalar_one()
        for version, block in ((1, "Old block"), (2, "The Council\nTown Hall")):
            conn.execute(
                template_versions.insert().values(
                    id=template_id,
                    version=version,
                    name="L",
                    template_type="letter",
                    content="Dear ((name))",
                    subject="Hello",
                    archived=False,
                    hidden=False,
                    has_unsubscribe_link=False,
                    letter_contact_block=block,
                    service_id=service_id,
                    created_by_id=user_id,
                    created_at=datetime.now(UTC),
                )
            )
    return template_id


def test_a_letter_request_carries_its_template_versions_contact_block(
    db: Database, service_id: uuid.UUID, letter_template: uuid.UUID
) -> None:
    db_run(db, lambda c: ingest(c, [_letter(service_id, letter_template)], email_domain="example"))
    (queued,) = _outbox(db)
    assert queued.routing_key == "delivery.letter.requested.v1"
    assert queued.payload.contact_block == "The Council\nTown Hall"
    assert queued.payload.address_lines == ["A Person", "1 Street", "SW1A 1AA"]
    assert queued.payload.precompiled is False


def test_a_precompiled_letter_waits_for_its_checks_then_takes_the_address_from_its_pdf(
    db: Database, service_id: uuid.UUID, letter_template: uuid.UUID
) -> None:
    event = _letter(service_id, letter_template, precompiled=True)
    nid = event.payload.notification_id
    db_run(db, lambda c: ingest(c, [event], email_domain="example"))
    assert _outbox(db)[0].payload.precompiled is True

    def row() -> Any:
        with db.engine.connect() as conn:
            return conn.execute(select(notifications).where(notifications.c.id == nid)).one()

    assert row().status == "pending-virus-check"
    checked = NotificationStatusReportedV1(
        notification_id=nid,
        status="created",
        reported_at=datetime.now(UTC),
        recipient="Ms A Person\n1 Rue X\nFrance",
        postage="europe",
        billable_units=2,
    )
    db_run(db, lambda c: apply_reports(c, [new_envelope(checked, producer="test", correlation_id="c")]))
    stored = row()
    assert (stored.status, stored.postage, stored.billable_units) == ("created", "europe", 2)
    assert stored.recipient == "Ms A Person\n1 Rue X\nFrance"
    assert stored.normalised_recipient == "Ms A Person, 1 Rue X, France"
    # Once checked, a report can no longer rewrite the address.
    again = checked.model_copy(update={"status": "sending", "recipient": "Someone else", "postage": "first"})
    db_run(db, lambda c: apply_reports(c, [new_envelope(again, producer="test", correlation_id="c")]))
    assert (row().status, row().postage, row().recipient) == (
        "sending",
        "europe",
        "Ms A Person\n1 Rue X\nFrance",
    )


def test_a_printed_letter_can_come_back_returned(
    db: Database, service_id: uuid.UUID, letter_template: uuid.UUID
) -> None:
    event = _letter(service_id, letter_template)
    nid = event.payload.notification_id
    db_run(db, lambda c: ingest(c, [event], email_domain="example"))
    t0 = datetime.now(UTC)
    reports = [_report(nid, "sending", t0), _report(nid, "delivered", t0 + timedelta(seconds=1))]
    db_run(db, lambda c: apply_reports(c, reports))
    returned = [_report(nid, "returned-letter", t0 + timedelta(days=3))]
    assert db_run(db, lambda c: apply_reports(c, returned)) == 1
    assert db_run(db, lambda c: apply_reports(c, returned + reports)) == 0
    changes = [e.payload for e in _outbox(db) if e.type == "notification.status_changed"]
    assert [(c.previous_status, c.status) for c in changes][-1] == ("delivered", "returned-letter")


def db_run(db: Database, fn: Any) -> Any:
    with db.unit_of_work() as conn:
        return fn(conn)
