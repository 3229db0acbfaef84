"""Each job notification's latest status from real ``notification.status_changed`` envelopes, and a job's statistics
counted from them (announced rows not reported on yet count as ``created``)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from notify_contracts import NotificationStatusChangedV1, new_envelope
from notify_jobs.adapters.tables import job_notifications, jobs
from notify_jobs.domain import jobs as status
from notify_jobs.entrypoints.jobs import statistics, statistics_of
from notify_jobs.handlers.statuses import record_statuses
from notify_platform.db import Database
from sqlalchemy import insert, select

pytestmark = pytest.mark.integration

SERVICE_ID = uuid.UUID("0d2e4b8c-6a3f-4f1e-9b7d-1c5a2e3f4d6b")
T0 = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)


def changed(
    notification_id: uuid.UUID,
    new: str,
    *,
    at: datetime,
    job_id: uuid.UUID | None,
    previous: str = "created",
) -> Any:
    """The envelope notifications publishes when it applies ``new``, as having happened ``at``."""
    envelope = new_envelope(
        NotificationStatusChangedV1(
            notification_id=notification_id,
            service_id=SERVICE_ID,
            notification_type="sms",
            key_type="normal",
            previous_status=previous,
            status=new,
            job_id=job_id,
        ),
        producer="notifications",
        correlation_id=f"corr-{notification_id.hex[:8]}",
    )
    return envelope.model_copy(update={"occurred_at": at})


def recorded(db: Database) -> dict[uuid.UUID, tuple[uuid.UUID, str, datetime]]:
    with db.unit_of_work() as conn:
        rows = conn.execute(select(job_notifications)).all()
    return {r.notification_id: (r.job_id, r.status, r.status_at) for r in rows}


def record(db: Database, *batch: Any) -> int:
    with db.unit_of_work() as conn:
        return record_statuses(conn, list(batch))


def add_job(db: Database, *, sent: int) -> Any:
    job_id = uuid.uuid4()
    with db.unit_of_work() as conn:
        conn.execute(
            insert(jobs).values(
                id=job_id,
                service_id=SERVICE_ID,
                template_id=uuid.uuid4(),
                template_version=1,
                original_file_name="people.csv",
                notification_count=sent,
                job_status=status.FINISHED,
                created_by_id=uuid.uuid4(),
                rows_processed=sent,
                notifications_sent=sent,
            )
        )
        return conn.execute(select(jobs).where(jobs.c.id == job_id)).one()


def stats(db: Database, job: Any) -> list[dict[str, Any]]:
    with db.unit_of_work() as conn:
        return statistics(conn, job)


def test_events_of_notifications_not_from_a_job_are_ignored(jobs_db: Database) -> None:
    job_id = uuid.uuid4()
    one_off, from_job = uuid.uuid4(), uuid.uuid4()

    assert record(jobs_db, changed(one_off, "sending", at=T0, job_id=None)) == 0
    assert recorded(jobs_db) == {}
    assert (
        record(
            jobs_db,
            changed(one_off, "delivered", at=T0, job_id=None),
            changed(from_job, "sending", at=T0, job_id=job_id),
        )
        == 1
    )
    assert recorded(jobs_db) == {from_job: (job_id, "sending", T0)}


def test_the_latest_status_wins(jobs_db: Database) -> None:
    job_id, n = uuid.uuid4(), uuid.uuid4()
    record(jobs_db, changed(n, "sending", at=T0, job_id=job_id))
    record(jobs_db, changed(n, "delivered", at=T0 + timedelta(seconds=3), job_id=job_id, previous="sending"))
    assert recorded(jobs_db) == {n: (job_id, "delivered", T0 + timedelta(seconds=3))}


def test_an_older_event_arriving_late_never_replaces_a_newer_one(jobs_db: Database) -> None:
    job_id, n = uuid.uuid4(), uuid.uuid4()
    record(jobs_db, changed(n, "permanent-failure", at=T0 + timedelta(seconds=5), job_id=job_id))
    # Redelivered or late: a status that happened before.
    assert record(jobs_db, changed(n, "sending", at=T0, job_id=job_id)) == 0
    assert record(jobs_db, changed(n, "created", at=T0 - timedelta(seconds=1), job_id=job_id)) == 0
    assert recorded(jobs_db) == {n: (job_id, "permanent-failure", T0 + timedelta(seconds=5))}
    # The very same event redelivered changes nothing either.
    record(jobs_db, changed(n, "permanent-failure", at=T0 + timedelta(seconds=5), job_id=job_id))
    assert recorded(jobs_db) == {n: (job_id, "permanent-failure", T0 + timedelta(seconds=5))}


def test_several_events_of_one_notification_in_one_batch_keep_the_latest(jobs_db: Database) -> None:
    job_id = uuid.uuid4()
    a, b = uuid.uuid4(), uuid.uuid4()
    batch = [
        changed(a, "delivered", at=T0 + timedelta(seconds=2), job_id=job_id, previous="sending"),
        changed(b, "sending", at=T0, job_id=job_id),
        changed(a, "sending", at=T0 + timedelta(seconds=1), job_id=job_id),  # older, after the newer
        changed(b, "temporary-failure", at=T0 + timedelta(seconds=4), job_id=job_id, previous="sending"),
        changed(b, "sending", at=T0, job_id=job_id),  # a duplicate
    ]

    assert record(jobs_db, *batch) == 2  # one row per notification (a multi-row upsert would refuse two)
    assert recorded(jobs_db) == {
        a: (job_id, "delivered", T0 + timedelta(seconds=2)),
        b: (job_id, "temporary-failure", T0 + timedelta(seconds=4)),
    }


def test_statistics_count_by_status_and_rows_not_reported_on_yet_as_created(jobs_db: Database) -> None:
    job = add_job(jobs_db, sent=7)
    other = add_job(jobs_db, sent=2)
    assert stats(jobs_db, job) == [{"status": "created", "count": 7}]

    ids = [uuid.uuid4() for _ in range(5)]
    record(
        jobs_db,
        changed(ids[0], "delivered", at=T0, job_id=job.id),
        changed(ids[1], "delivered", at=T0, job_id=job.id),
        changed(ids[2], "sending", at=T0, job_id=job.id),
        changed(ids[3], "permanent-failure", at=T0, job_id=job.id),
        changed(ids[4], "created", at=T0, job_id=job.id),
        changed(uuid.uuid4(), "delivered", at=T0, job_id=other.id),
    )

    # Seven announced, five reported on: one of them still "created", plus two not heard of yet.
    assert stats(jobs_db, job) == [
        {"status": "created", "count": 3},
        {"status": "delivered", "count": 2},
        {"status": "permanent-failure", "count": 1},
        {"status": "sending", "count": 1},
    ]
    assert stats(jobs_db, other) == [
        {"status": "created", "count": 1},
        {"status": "delivered", "count": 1},
    ]
    record(jobs_db, changed(ids[2], "delivered", at=T0 + timedelta(seconds=1), job_id=job.id))
    assert stats(jobs_db, job) == [
        {"status": "created", "count": 3},
        {"status": "delivered", "count": 3},
        {"status": "permanent-failure", "count": 1},
    ]


def test_statistics_of_a_job_with_nothing_announced_are_empty(jobs_db: Database) -> None:
    assert stats(jobs_db, add_job(jobs_db, sent=0)) == []


def test_a_page_of_jobs_gets_each_jobs_own_counts(jobs_db: Database) -> None:
    busy, quiet, fresh = add_job(jobs_db, sent=3), add_job(jobs_db, sent=2), add_job(jobs_db, sent=1)
    record(
        jobs_db,
        changed(uuid.uuid4(), "delivered", at=T0, job_id=busy.id),
        changed(uuid.uuid4(), "delivered", at=T0, job_id=busy.id),
        changed(uuid.uuid4(), "permanent-failure", at=T0, job_id=busy.id),
        changed(uuid.uuid4(), "sending", at=T0, job_id=quiet.id),
    )
    with jobs_db.unit_of_work() as conn:
        page = statistics_of(conn, [busy, quiet, fresh])
        assert statistics(conn, quiet) == page[quiet.id]
    assert page == {
        busy.id: [{"status": "delivered", "count": 2}, {"status": "permanent-failure", "count": 1}],
        quiet.id: [{"status": "created", "count": 1}, {"status": "sending", "count": 1}],
        fresh.id: [{"status": "created", "count": 1}],  # announced, no event yet
    }
