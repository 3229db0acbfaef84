"""Turning jobs into notifications on a real jobs database: the scheduler and the claim racing other replicas, the
stored rows' round trip, and ``JobWorker`` end to end with a fake broker and a fake notifications service."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis.asyncio as aioredis
from notify_contracts import Envelope, decode_many, encode_bundle
from notify_jobs.adapters import storage
from notify_jobs.adapters.tables import jobs, upload_chunks, uploads
from notify_jobs.domain import jobs as status
from notify_jobs.handlers.processing import NOTIFICATIONS_QUEUE, JobWorker, claim, start_due
from notify_jobs.sending import notification_id
from notify_jobs.settings import Settings
from notify_platform.broker import BrokerUnavailable
from notify_platform.daily_limits import DailyLimits
from notify_platform.db import Database
from notify_tools.testing import Infra
from sqlalchemy import func, insert, select, text, update

pytestmark = pytest.mark.integration

SERVICE_ID = uuid.UUID("0d2e4b8c-6a3f-4f1e-9b7d-1c5a2e3f4d6b")
TEMPLATE_ID = uuid.UUID("5b7c9d1e-2f3a-4b5c-8d6e-7f8091a2b3c4")
USER_ID = uuid.UUID("9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d")
SENDER_ID = uuid.UUID("3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f")
HEADER = ["phone number", "name"]
LEASE = timedelta(seconds=30)


def phone(i: int) -> str:
    """A valid UK mobile, never one of the smoke-test numbers."""
    return f"07700 900{300 + i:03d}"


def people(n: int) -> list[list[str]]:
    return [[phone(i), f"Person {i}"] for i in range(n)]


def add_job(
    db: Database,
    rows: list[list[str]],
    *,
    job_status: str = status.PENDING,
    scheduled_for: datetime | None = None,
    created_at: datetime | None = None,
    header: list[str] = HEADER,
    **values: Any,
) -> uuid.UUID:
    """An upload with its rows stored as the upload route stores them, and a job made from it."""
    job_id = uuid.uuid4()
    with db.unit_of_work() as conn:
        stream, out = storage.writer(conn, job_id, 4096)
        out.writerow(header)
        out.writerows(rows)
        stream.close()
        conn.execute(
            insert(uploads).values(
                id=job_id,
                service_id=SERVICE_ID,
                kind="job",
                data_id=job_id,
                template_id=TEMPLATE_ID,
                template_version=1,
                template_type="sms",
                original_file_name="people.csv",
                notification_count=len(rows),
                valid=True,
                size_bytes=stream.size,
            )
        )
        conn.execute(
            insert(jobs).values(
                id=job_id,
                service_id=SERVICE_ID,
                template_id=TEMPLATE_ID,
                template_version=1,
                template_type="sms",
                original_file_name="people.csv",
                notification_count=len(rows),
                job_status=job_status,
                created_by_id=USER_ID,
                created_at=created_at or datetime.now(UTC),
                scheduled_for=scheduled_for,
                **values,
            )
        )
    return job_id


def job_row(db: Database, job_id: uuid.UUID) -> Any:
    with db.unit_of_work() as conn:
        return conn.execute(select(jobs).where(jobs.c.id == job_id)).one()


def statuses(db: Database) -> dict[uuid.UUID, str]:
    with db.unit_of_work() as conn:
        return dict(conn.execute(select(jobs.c.id, jobs.c.job_status)).all())  # type: ignore[arg-type]


def claimed(db: Database, owner: str, lease: timedelta = LEASE) -> Any:
    with db.unit_of_work() as conn:
        return claim(conn, owner, lease)


def waiting_on_locks(db: Database) -> int:
    with db.engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
        )


def until(condition: Callable[[], bool], timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def run_together(workers: int, fn: Callable[[], Iterable[uuid.UUID]]) -> list[uuid.UUID]:
    """``fn`` in ``workers`` threads released at the same moment; everything they returned."""
    barrier = threading.Barrier(workers)
    results: list[list[uuid.UUID]] = [[] for _ in range(workers)]
    errors: list[BaseException] = []

    def body(index: int) -> None:
        try:
            barrier.wait(10)
            results[index] = list(fn())
        except BaseException as exc:  # reported in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    return [job_id for part in results for job_id in part]


# --- the scheduler ---------------------------------------------------------------------------------------------


def test_start_due_moves_only_due_scheduled_jobs_to_pending(jobs_db: Database) -> None:
    past = datetime.now(UTC) - timedelta(minutes=1)
    future = datetime.now(UTC) + timedelta(hours=1)
    due = add_job(jobs_db, people(1), job_status=status.SCHEDULED, scheduled_for=past)
    not_yet = add_job(jobs_db, people(1), job_status=status.SCHEDULED, scheduled_for=future)
    cancelled = add_job(jobs_db, people(1), job_status=status.CANCELLED, scheduled_for=past)
    pending = add_job(jobs_db, people(1))
    finished = add_job(jobs_db, people(1), job_status=status.FINISHED, scheduled_for=past)

    with jobs_db.unit_of_work() as conn:
        started = start_due(conn)

    assert started == [due]
    assert statuses(jobs_db) == {
        due: status.PENDING,
        not_yet: status.SCHEDULED,
        cancelled: status.CANCELLED,
        pending: status.PENDING,
        finished: status.FINISHED,
    }
    assert job_row(jobs_db, due).updated_at is not None
    assert job_row(jobs_db, not_yet).updated_at is None
    with jobs_db.unit_of_work() as conn:
        assert start_due(conn) == []


def test_two_replicas_starting_due_jobs_at_once_start_each_exactly_once(jobs_db: Database) -> None:
    """Replica B's scheduler runs while replica A's transaction (which started the jobs) is still open: B waits on
    A's row locks, then sees the jobs are no longer ``scheduled`` and starts none of them."""
    past = datetime.now(UTC) - timedelta(seconds=5)
    due = {add_job(jobs_db, people(1), job_status=status.SCHEDULED, scheduled_for=past) for _ in range(5)}
    results: dict[str, list[uuid.UUID]] = {}
    a_started, a_may_commit = threading.Event(), threading.Event()

    def replica_a() -> None:
        with jobs_db.unit_of_work() as conn:
            results["a"] = start_due(conn)
            a_started.set()
            a_may_commit.wait(10)

    def replica_b() -> None:
        with jobs_db.unit_of_work() as conn:
            conn.execute(text("SET LOCAL lock_timeout = '10s'"))
            results["b"] = start_due(conn)

    a = threading.Thread(target=replica_a)
    a.start()
    assert a_started.wait(10)
    b = threading.Thread(target=replica_b)
    b.start()
    blocked = until(lambda: waiting_on_locks(jobs_db) >= 1)
    a_may_commit.set()
    a.join(10)
    b.join(10)

    assert blocked, "replica B never ran concurrently with A's open transaction"
    assert set(results["a"]) == due and len(results["a"]) == 5
    assert results["b"] == []
    assert set(statuses(jobs_db).values()) == {status.PENDING}


def test_many_replicas_racing_start_every_due_job_once(jobs_db: Database) -> None:
    past = datetime.now(UTC) - timedelta(seconds=5)
    due = {add_job(jobs_db, [], job_status=status.SCHEDULED, scheduled_for=past) for _ in range(40)}
    later = add_job(jobs_db, [], job_status=status.SCHEDULED, scheduled_for=past + timedelta(hours=1))

    def replica() -> list[uuid.UUID]:
        started = []
        for _ in range(3):
            with jobs_db.unit_of_work() as conn:
                started += start_due(conn)
        return started

    started = run_together(4, replica)

    counts = Counter(started)
    assert set(counts) == due
    assert max(counts.values()) == 1
    assert statuses(jobs_db)[later] == status.SCHEDULED


# --- claiming a job ------------------------------------------------------------------------------------------


def test_claim_takes_the_oldest_pending_job_with_a_lease(jobs_db: Database) -> None:
    now = datetime.now(UTC)
    newer = add_job(jobs_db, people(1), created_at=now)
    older = add_job(jobs_db, people(1), created_at=now - timedelta(minutes=5))
    add_job(jobs_db, people(1), job_status=status.SCHEDULED, created_at=now - timedelta(hours=1))
    add_job(jobs_db, people(1), job_status=status.FINISHED, created_at=now - timedelta(hours=1))

    job = claimed(jobs_db, "worker-a", timedelta(seconds=30))

    assert job.id == older
    assert job.job_status == status.IN_PROGRESS and job.lease_owner == "worker-a"
    assert timedelta(seconds=25) < job.lease_until - datetime.now(UTC) <= timedelta(seconds=30)
    assert claimed(jobs_db, "worker-b").id == newer
    assert claimed(jobs_db, "worker-c") is None


def test_two_workers_claiming_at_once_never_get_the_same_job(jobs_db: Database) -> None:
    """Worker A holds its claim's transaction open; B must skip A's locked row (not wait for it) and get the
    other job; once both committed, nothing is left to claim."""
    now = datetime.now(UTC)
    first = add_job(jobs_db, people(1), created_at=now - timedelta(seconds=2))
    second = add_job(jobs_db, people(1), created_at=now - timedelta(seconds=1))
    got: dict[str, Any] = {}
    a_claimed, a_may_commit = threading.Event(), threading.Event()

    def worker_a() -> None:
        with jobs_db.unit_of_work() as conn:
            got["a"] = claim(conn, "worker-a", LEASE)
            a_claimed.set()
            a_may_commit.wait(10)

    a = threading.Thread(target=worker_a)
    a.start()
    try:
        assert a_claimed.wait(10)
        with jobs_db.unit_of_work() as conn:
            conn.execute(text("SET LOCAL lock_timeout = '2s'"))  # a claim that waits for A fails, not hangs
            got["b"] = claim(conn, "worker-b", LEASE)
    finally:
        a_may_commit.set()
        a.join(10)

    assert got["a"].id == first and got["b"].id == second
    owners = {r.id: r.lease_owner for r in (job_row(jobs_db, first), job_row(jobs_db, second))}
    assert owners == {first: "worker-a", second: "worker-b"}
    assert claimed(jobs_db, "worker-c") is None


def test_many_workers_claiming_together_each_get_distinct_jobs(jobs_db: Database) -> None:
    base = datetime.now(UTC) - timedelta(minutes=1)
    all_jobs = {add_job(jobs_db, [], created_at=base + timedelta(milliseconds=i)) for i in range(24)}

    def worker() -> list[uuid.UUID]:
        mine = []
        owner = uuid.uuid4().hex
        while (job := claimed(jobs_db, owner)) is not None:
            assert job.lease_owner == owner
            mine.append(job.id)
        return mine

    taken = run_together(6, worker)

    assert Counter(taken).most_common(1)[0][1] == 1
    assert set(taken) == all_jobs


def test_a_job_whose_lease_ran_out_is_taken_over_and_a_live_one_is_not(jobs_db: Database) -> None:
    now = datetime.now(UTC)
    live = add_job(
        jobs_db,
        people(3),
        job_status=status.IN_PROGRESS,
        lease_owner="alive",
        lease_until=now + timedelta(seconds=20),
        rows_processed=1,
        created_at=now - timedelta(minutes=2),
    )
    expired = add_job(
        jobs_db,
        people(3),
        job_status=status.IN_PROGRESS,
        lease_owner="dead",
        lease_until=now - timedelta(seconds=1),
        rows_processed=2,
        notifications_sent=2,
        created_at=now - timedelta(minutes=1),
    )

    job = claimed(jobs_db, "rescuer")

    assert job.id == expired
    assert job.lease_owner == "rescuer" and job.job_status == status.IN_PROGRESS
    assert job.lease_until > datetime.now(UTC) + timedelta(seconds=20)
    assert (job.rows_processed, job.notifications_sent) == (2, 2)  # it resumes where the last batch ended
    assert claimed(jobs_db, "another") is None
    assert job_row(jobs_db, live).lease_owner == "alive"


# --- stored rows ---------------------------------------------------------------------------------------------


def test_rows_written_in_small_chunks_come_back_exactly(jobs_db: Database) -> None:
    tricky = [
        "comma, inside",
        'a "quoted" word',
        '"',
        "line one\nline two",
        "windows\r\nline",
        "Zoë Ñuñez — 東京 🎉",
        "   spaces kept   ",
        "",
        "'=1+1",
        "tab\there",
    ]
    rows = [HEADER + ["notes"]]
    for i in range(1200):
        rows.append([phone(i % 90), f"Person {i} ✓", tricky[i % len(tricky)] * (1 + i % 3)])
    rows.append([""])  # a row of one empty cell
    rows.append(["last", "row", "ünïcödé"])
    data_id = uuid.uuid4()

    with jobs_db.unit_of_work() as conn:
        stream, out = storage.writer(conn, data_id, 4096)
        for row in rows:
            out.writerow(row)
        stream.close()
        written = stream.size

    with jobs_db.unit_of_work() as conn:
        chunks = conn.execute(
            select(upload_chunks.c.seq, func.length(upload_chunks.c.data))
            .where(upload_chunks.c.data_id == data_id)
            .order_by(upload_chunks.c.seq)
        ).all()
        back = list(storage.stored_rows(conn, data_id))

    assert len(chunks) > 10
    assert [seq for seq, _ in chunks] == list(range(len(chunks)))
    assert all(size >= 4096 for _, size in chunks[:-1])
    assert sum(size for _, size in chunks) == written
    assert back == rows


def test_a_cell_with_a_lone_carriage_return_comes_back_as_one_cell(jobs_db: Database) -> None:
    """An unquoted lone "\\r" would end the row when read back (csv only quotes a cell for the characters of
    its line terminator), so one stored row would become two and every later row's number would shift."""
    rows = [HEADER, [phone(0), "carriage\rreturn"], [phone(1), "next"]]
    data_id = uuid.uuid4()
    with jobs_db.unit_of_work() as conn:
        stream, out = storage.writer(conn, data_id, 4096)
        out.writerows(rows)
        stream.close()
        assert list(storage.stored_rows(conn, data_id)) == rows


def test_no_stored_rows_and_forget(jobs_db: Database) -> None:
    data_id = uuid.uuid4()
    with jobs_db.unit_of_work() as conn:
        assert list(storage.stored_rows(conn, data_id)) == []
        stream, out = storage.writer(conn, data_id, 4096)
        out.writerows([["a"], ["b"]])
        stream.close()
        assert list(storage.stored_rows(conn, data_id)) == [["a"], ["b"]]
        storage.forget(conn, data_id)
        assert list(storage.stored_rows(conn, data_id)) == []


# --- the worker, end to end ----------------------------------------------------------------------------------


def service_record(
    *,
    active: bool = True,
    restricted: bool = False,
    sms_limit: int = 1000,
    team: Iterable[str] = (),
    guests: Iterable[str] = (),
) -> dict[str, Any]:
    """What notifications answers for ``/internal/services/{id}/auth?keys=false``."""
    return {
        "id": str(SERVICE_ID),
        "name": "Test service",
        "active": active,
        "restricted": restricted,
        "permissions": ["sms", "email", "letter"],
        "rate_limit": 3000,
        "prefix_sms": False,
        "limits": {"sms": sms_limit, "email": 1000, "letter": 1000, "international_sms": 100},
        "api_keys": [],
        "sms_senders": [
            {"id": str(uuid.uuid4()), "sms_sender": "OLD", "is_default": True, "archived": True},
            {"id": str(SENDER_ID), "sms_sender": "GOVUK", "is_default": True, "archived": False},
        ],
        "email_reply_to": [],
        "team_members": [
            {
                "id": str(uuid.uuid4()),
                "name": "Member",
                "email_address": "m@example.gov.uk",
                "mobile_number": n,
            }
            for n in team
        ],
        "guest_list": [{"type": "mobile", "recipient": n} for n in guests],
    }


TEMPLATE = {
    "id": str(TEMPLATE_ID),
    "service_id": str(SERVICE_ID),
    "name": "Greeting",
    "template_type": "sms",
    "content": "Hello ((name))",
    "subject": None,
    "postage": None,
    "archived": False,
    "hidden": False,
    "letter_contact_block": None,
    "version": 1,
}


class FakeNotifications:
    def __init__(self, service: dict[str, Any] | None = None) -> None:
        self.record = service if service is not None else service_record()
        self.deleted = False
        self.stored: dict[uuid.UUID, int] = {}

    async def service(self, service_id: uuid.UUID) -> dict[str, Any] | None:
        assert service_id == SERVICE_ID
        return None if self.deleted else self.record

    async def template(
        self, service_id: uuid.UUID, template_id: uuid.UUID, version: int | None = None
    ) -> dict[str, Any] | None:
        assert (service_id, template_id, version) == (SERVICE_ID, TEMPLATE_ID, 1)
        return TEMPLATE

    async def job_count(self, service_id: uuid.UUID, job_id: uuid.UUID) -> int:
        assert service_id == SERVICE_ID
        return self.stored.get(job_id, 0)


class FakeBroker:
    """Records every confirmed publish; raises ``BrokerUnavailable`` on the ``fail_on``-th call; answers queue
    depths from ``depths`` (then 0), calling ``on_poll`` before each answer."""

    def __init__(
        self,
        *,
        fail_on: int | None = None,
        depths: Iterable[int | None] = (),
        on_poll: Callable[[], None] | None = None,
    ) -> None:
        self.fail_on = fail_on
        self.depths = list(depths)
        self.on_poll = on_poll
        self.calls = 0
        self.polls = 0
        self.queues: list[str] = []
        self.published: list[dict[str, Any]] = []
        self.bundles: list[int] = []

    async def publish_bundle(self, envelopes: Sequence[Envelope[Any]], *, correlation_id: str) -> None:
        self.calls += 1
        failing = self.calls == self.fail_on
        body = encode_bundle(envelopes)  # what goes on the wire, decoded back as a consumer would
        await asyncio.sleep(0)  # a confirm takes a while: the batch's publishes are in flight together
        if failing:
            raise BrokerUnavailable("no confirm")
        self.bundles.append(len(envelopes))
        for envelope in decode_many(body):
            self.published.append(
                {
                    "routing_key": envelope.routing_key,
                    "envelope": envelope,
                    "correlation_id": correlation_id,
                    "poll": self.polls,
                }
            )

    async def queue_depth(self, queue: str) -> int | None:
        self.queues.append(queue)
        self.polls += 1
        if self.on_poll:
            self.on_poll()
        return self.depths.pop(0) if self.depths else 0

    def payloads(self) -> list[Any]:
        return [p["envelope"].payload for p in self.published]

    def ids(self) -> list[uuid.UUID]:
        return [p.notification_id for p in self.payloads()]


def settings_for(db: Database, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "environment": "test",
        "jobs_database_url": db.url,
        "job_batch_size": 4,
        "job_bundle_size": 1,
        "job_max_queue_depth": 10,
        "job_lease_seconds": 30.0,
    }
    return Settings(**{**values, **overrides})


def worker_for(
    db: Database,
    broker: FakeBroker,
    notifications: FakeNotifications,
    *,
    daily_limits: DailyLimits | None = None,
    owner: str = "worker-a",
    **settings: Any,
) -> JobWorker:
    return JobWorker(
        db=db,
        broker=broker,  # type: ignore[arg-type]
        notifications=notifications,  # type: ignore[arg-type]
        daily_limits=daily_limits,
        settings=settings_for(db, **settings),
        owner=owner,
    )


@pytest.fixture
async def daily_limits(infra: Infra) -> AsyncIterator[DailyLimits]:
    client = aioredis.Redis.from_url(infra.redis_url)
    prefix = f"{infra.redis_prefix}jobs-{uuid.uuid4().hex[:8]}:"
    yield DailyLimits(client, prefix=prefix)
    keys = [k async for k in client.scan_iter(match=f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def test_every_row_is_announced_once_with_progress_then_all_created(jobs_db: Database) -> None:
    job_id = add_job(jobs_db, people(10))
    progress_seen: list[tuple[int, int]] = []

    def probe() -> None:
        row = job_row(jobs_db, job_id)
        progress_seen.append((row.rows_processed, row.notifications_sent))

    broker = FakeBroker(on_poll=probe)
    notifications = FakeNotifications()
    worker = worker_for(jobs_db, broker, notifications)

    job = claimed(jobs_db, worker.owner)
    await worker.process(job)

    payloads = broker.payloads()
    assert sorted(p.job_row_number for p in payloads) == list(range(10))
    assert broker.ids() == [notification_id(job_id, p.job_row_number) for p in payloads]
    assert len(set(broker.ids())) == 10
    by_row = {p.job_row_number: p for p in payloads}
    assert [by_row[i].recipient for i in range(10)] == [phone(i) for i in range(10)]
    assert by_row[7].body == "Hello Person 7"
    assert by_row[7].personalisation == {"phone number": phone(7), "name": "Person 7"}
    assert by_row[7].normalised_recipient == "447700900307"
    assert {(p.job_id, p.service_id, p.template_id, p.template_version) for p in payloads} == {
        (job_id, SERVICE_ID, TEMPLATE_ID, 1)
    }
    assert {(p.sender_id, p.sender, p.created_by_id, p.key_type) for p in payloads} == {
        (SENDER_ID, "GOVUK", USER_ID, "normal")
    }
    assert {p["routing_key"] for p in broker.published} == {"notification.requested.v1"}
    assert {p["correlation_id"] for p in broker.published} == {str(job_id)}
    assert len({p["envelope"].event_id for p in broker.published}) == 10  # an event of its own per row
    # Progress is recorded after each confirmed batch of 4 (the depth is polled before each batch).
    assert progress_seen == [(0, 0), (4, 4), (8, 8), (10, 10)]
    assert set(broker.queues) == {NOTIFICATIONS_QUEUE}

    done = job_row(jobs_db, job_id)
    assert done.job_status == status.FINISHED
    assert (done.rows_processed, done.notifications_sent) == (10, 10)
    assert done.processing_started is not None and done.processing_finished is not None
    assert done.processing_started <= done.processing_finished

    # Not every notification stored yet: the job stays finished.
    notifications.stored[job_id] = 9
    assert await worker.check_created() == 0
    assert job_row(jobs_db, job_id).job_status == status.FINISHED
    notifications.stored[job_id] = 10
    assert await worker.check_created() == 1
    assert job_row(jobs_db, job_id).job_status == status.ALL_CREATED
    assert await worker.check_created() == 0


async def test_rows_travel_in_bundles_of_the_configured_size_within_each_batch(jobs_db: Database) -> None:
    job_id = add_job(jobs_db, people(10))
    broker = FakeBroker()
    worker = worker_for(jobs_db, broker, FakeNotifications(), job_bundle_size=3)

    await worker.process(claimed(jobs_db, worker.owner))

    assert broker.bundles == [3, 1, 3, 1, 2]  # batches of 4, 4 and 2 rows
    assert sorted(p.job_row_number for p in broker.payloads()) == list(range(10))
    assert sorted(broker.ids()) == sorted(notification_id(job_id, row) for row in range(10))
    assert job_row(jobs_db, job_id).job_status == status.FINISHED


async def test_trial_mode_skips_rows_to_recipients_outside_the_team(jobs_db: Database) -> None:
    job_id = add_job(jobs_db, people(8))
    service = service_record(restricted=True, team=[phone(2)], guests=["+44 7700 900305"])
    broker = FakeBroker()
    worker = worker_for(jobs_db, broker, FakeNotifications(service))

    await worker.process(claimed(jobs_db, worker.owner))

    assert sorted(p.job_row_number for p in broker.payloads()) == [2, 5]
    assert sorted(broker.ids()) == sorted([notification_id(job_id, 2), notification_id(job_id, 5)])
    done = job_row(jobs_db, job_id)
    assert done.job_status == status.FINISHED
    assert (done.rows_processed, done.notifications_sent) == (8, 2)


async def test_a_job_over_the_daily_limit_sends_nothing(jobs_db: Database, daily_limits: DailyLimits) -> None:
    notifications = FakeNotifications(service_record(sms_limit=5))
    broker = FakeBroker()
    worker = worker_for(jobs_db, broker, notifications, daily_limits=daily_limits)

    fits = add_job(jobs_db, people(3))
    await worker.process(claimed(jobs_db, worker.owner))
    assert job_row(jobs_db, fits).job_status == status.FINISHED
    assert await daily_limits.count(SERVICE_ID, "sms") == 3  # the whole job is reserved at once
    assert len(broker.published) == 3

    too_big = add_job(jobs_db, people(3))
    await worker.process(claimed(jobs_db, worker.owner))
    refused = job_row(jobs_db, too_big)
    assert refused.job_status == status.LIMITS_EXCEEDED
    assert refused.processing_finished is not None and refused.processing_started is None
    assert (refused.rows_processed, refused.notifications_sent) == (0, 0)
    assert len(broker.published) == 3  # nothing more
    assert await daily_limits.count(SERVICE_ID, "sms") == 3
    assert claimed(jobs_db, worker.owner) is None


@pytest.mark.parametrize("why", ["inactive", "deleted"])
async def test_a_job_of_a_service_no_longer_active_is_cancelled(jobs_db: Database, why: str) -> None:
    notifications = FakeNotifications(service_record(active=why != "inactive"))
    notifications.deleted = why == "deleted"
    broker = FakeBroker()
    worker = worker_for(jobs_db, broker, notifications)
    job_id = add_job(jobs_db, people(3))

    await worker.process(claimed(jobs_db, worker.owner))

    cancelled = job_row(jobs_db, job_id)
    assert cancelled.job_status == status.CANCELLED
    assert cancelled.processing_finished is not None
    assert broker.published == [] and broker.calls == 0


async def test_a_publish_failing_mid_job_resumes_from_the_last_whole_batch(
    jobs_db: Database, daily_limits: DailyLimits
) -> None:
    job_id = add_job(jobs_db, people(10))
    # The limit is exactly the job: reserving it a second time on resuming would refuse the job.
    notifications = FakeNotifications(service_record(sms_limit=10))
    failing = FakeBroker(fail_on=6)  # in the second batch (rows 4..7)
    first = worker_for(jobs_db, failing, notifications, daily_limits=daily_limits, owner="worker-a")

    with pytest.raises(BrokerUnavailable):
        await first.process(claimed(jobs_db, first.owner))

    stopped = job_row(jobs_db, job_id)
    assert stopped.job_status == status.IN_PROGRESS and stopped.lease_owner == "worker-a"
    assert (stopped.rows_processed, stopped.notifications_sent) == (4, 4)
    assert len(failing.published) == 4 + 3
    assert claimed(jobs_db, "worker-b") is None  # worker A's lease is still live

    with jobs_db.unit_of_work() as conn:  # worker A died: its lease runs out
        conn.execute(
            update(jobs).where(jobs.c.id == job_id).values(lease_until=text("now() - interval '1 s'"))
        )
    healthy = FakeBroker()
    second = worker_for(jobs_db, healthy, notifications, daily_limits=daily_limits, owner="worker-b")
    job = claimed(jobs_db, second.owner)
    assert job.id == job_id and job.rows_processed == 4
    await second.process(job)

    finished = job_row(jobs_db, job_id)
    assert finished.job_status == status.FINISHED
    assert (finished.rows_processed, finished.notifications_sent) == (10, 10)
    assert sorted(p.job_row_number for p in healthy.payloads()) == list(range(4, 10))
    every = [notification_id(job_id, row) for row in range(10)]
    assert set(failing.ids()) | set(healthy.ids()) == set(every)
    twice = set(failing.ids()) & set(healthy.ids())
    assert len(twice) == 3 and twice <= {notification_id(job_id, row) for row in range(4, 8)}
    assert await daily_limits.count(SERVICE_ID, "sms") == 10


async def test_nothing_is_published_while_the_notifications_queue_is_too_long(jobs_db: Database) -> None:
    job_id = add_job(jobs_db, people(10))
    # Poll 1: room (batch 1); polls 2-4: over the limit of 10 (None: unknown, treated as room); poll 5: batch 2.
    broker = FakeBroker(depths=[0, 50, 11, 50, 10, None])
    worker = worker_for(jobs_db, broker, FakeNotifications(), job_max_queue_depth=10)

    began = time.monotonic()
    await worker.process(claimed(jobs_db, worker.owner))
    elapsed = time.monotonic() - began

    by_poll = Counter(p["poll"] for p in broker.published)
    assert by_poll == {1: 4, 5: 4, 6: 2}
    assert broker.polls == 7
    assert elapsed >= 0.5  # three waits of 0.2 s
    assert job_row(jobs_db, job_id).job_status == status.FINISHED


async def test_a_worker_waiting_for_room_keeps_its_lease(jobs_db: Database) -> None:
    job_id = add_job(jobs_db, people(2))
    intruders: list[Any] = []
    broker = FakeBroker(
        depths=[99] * 7, on_poll=lambda: intruders.append(claimed(jobs_db, "intruder", LEASE))
    )
    worker = worker_for(jobs_db, broker, FakeNotifications(), job_lease_seconds=0.6)

    await worker.process(claimed(jobs_db, worker.owner, worker.lease))

    assert broker.polls == 9  # 7 waits over ~1.4 s, more than twice the lease
    assert intruders == [None] * 9
    done = job_row(jobs_db, job_id)
    assert done.job_status == status.FINISHED and done.lease_owner == "worker-a"
    assert done.notifications_sent == 2


async def test_a_worker_that_lost_its_lease_cannot_end_the_job(jobs_db: Database) -> None:
    job_id = add_job(jobs_db, people(1), job_status=status.IN_PROGRESS, lease_owner="worker-b")
    late = worker_for(jobs_db, FakeBroker(), FakeNotifications(), owner="worker-a")
    assert await late._move(job_id, status.IN_PROGRESS, status.FINISHED) == 0
    assert job_row(jobs_db, job_id).job_status == status.IN_PROGRESS
    holder = worker_for(jobs_db, FakeBroker(), FakeNotifications(), owner="worker-b")
    assert await holder._move(job_id, status.IN_PROGRESS, status.FINISHED) == 1
    assert job_row(jobs_db, job_id).job_status == status.FINISHED
