"""Turning jobs into notifications: the scheduler, the worker that announces every row, and the created-check.

* **Scheduler**: one ``UPDATE … WHERE job_status = 'scheduled' AND scheduled_for <= now()`` moves due jobs to
  ``pending``. A row is changed by one transaction only, so with any number of replicas a due job starts once.
* **Worker**: takes one ``pending`` job (or an ``in progress`` one whose worker's lease ran out) with ``FOR UPDATE
  SKIP LOCKED`` and a lease. The first time, it checks the service is still active and reserves the whole job in the
  daily limit (behaviour.md §4.2: ``sending limits exceeded`` and nothing sent if it would go over). Then it streams
  the stored rows from where the last committed batch ended, prepares each (the same checks and values as an API
  send; rows to recipients trial mode does not allow are skipped, as Notify does), and announces a batch of
  ``notification.requested.v1`` (one event per row, carried in bundles of ``JOB_BUNDLE_SIZE`` events a message)
  with publisher confirms before it records its progress and renews its lease. A
  worker killed mid-batch leaves its progress at the previous batch: the next worker announces those rows again
  with the same notification ids (derived from the job id and the row number), and notifications stores each once.
  Back-pressure: a batch waits for every confirm, and the worker pauses while the notifications queue holds more
  than ``JOB_MAX_QUEUE_DEPTH`` messages.
* **Created-check**: a ``finished`` job becomes ``finished all notifications created`` once notifications holds as
  many of its notifications as were announced.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from notify_contracts import Envelope, new_envelope
from notify_platform.broker import Broker, BrokerUnavailable
from notify_platform.daily_limits import DailyLimitExceeded, DailyLimits
from notify_platform.db import Database
from notify_platform.logging import get_logger
from sqlalchemy import and_, or_, select, text, update
from sqlalchemy.engine import Connection

from ..adapters import storage
from ..adapters.notifications_client import NotificationsClient, NotificationsUnavailable
from ..adapters.tables import jobs, uploads
from ..domain import jobs as status
from ..domain.rows import JobFileInvalid, RowFailure, iter_prepared
from ..sending import row_event, sender_for, service_rules, template_info
from ..settings import Settings

log = get_logger(__name__)
NOTIFICATIONS_QUEUE = "notifications.requested"


def start_due(conn: Connection) -> list[uuid.UUID]:
    """Scheduled jobs whose time has come become pending (exactly once, whatever the number of replicas)."""
    return list(
        conn.execute(
            update(jobs)
            .where(jobs.c.job_status == status.SCHEDULED, jobs.c.scheduled_for <= datetime.now(UTC))
            .values(job_status=status.PENDING, updated_at=datetime.now(UTC))
            .returning(jobs.c.id)
        ).scalars()
    )


def claim(conn: Connection, owner: str, lease: timedelta) -> Any:
    """One job to work on: pending, or in progress with an expired lease (its worker died); None if none."""
    now = datetime.now(UTC)
    candidate = conn.execute(
        select(jobs.c.id)
        .where(
            or_(
                jobs.c.job_status == status.PENDING,
                and_(jobs.c.job_status == status.IN_PROGRESS, jobs.c.lease_until < now),
            )
        )
        .order_by(jobs.c.created_at)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).scalar()
    if candidate is None:
        return None
    return conn.execute(
        update(jobs)
        .where(jobs.c.id == candidate)
        .values(job_status=status.IN_PROGRESS, lease_owner=owner, lease_until=now + lease, updated_at=now)
        .returning(*jobs.c)
    ).one()


class LeaseLost(Exception):
    """Another worker took the job over (this one was too slow to renew its lease): stop without writing."""


class JobWorker:
    def __init__(
        self,
        *,
        db: Database,
        broker: Broker,
        notifications: NotificationsClient,
        daily_limits: DailyLimits | None,
        settings: Settings,
        owner: str | None = None,
    ) -> None:
        self.db = db
        self.broker = broker
        self.notifications = notifications
        self.daily_limits = daily_limits
        self.settings = settings
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.lease = timedelta(seconds=settings.job_lease_seconds)

    async def run_forever(self) -> None:
        while True:
            worked = False
            try:
                started = await self.db.transaction(start_due)
                for job_id in started:
                    log.info("jobs.schedule_due", job_id=str(job_id))
                job = await self.db.transaction(lambda conn: claim(conn, self.owner, self.lease))
                if job is not None:
                    worked = True
                    await self.process(job)
            except (BrokerUnavailable, NotificationsUnavailable, LeaseLost) as exc:
                log.warning("jobs.processing_paused", error=type(exc).__name__, detail=str(exc))
                await asyncio.sleep(1.0)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("jobs.processing_failed")
                await asyncio.sleep(1.0)
            if not worked:
                await asyncio.sleep(self.settings.job_poll_interval_seconds)

    async def check_created_forever(self) -> None:
        while True:
            try:
                await self.check_created()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("jobs.created_check_failed", error=type(exc).__name__)
            await asyncio.sleep(self.settings.job_created_check_interval_seconds)

    async def check_created(self) -> int:
        """Finished jobs whose every announced row is stored become ``finished all notifications created``."""
        finished = await self.db.transaction(
            lambda conn: conn.execute(
                select(jobs.c.id, jobs.c.service_id, jobs.c.notifications_sent).where(
                    jobs.c.job_status == status.FINISHED
                )
            ).all()
        )
        moved = 0
        for job in finished:
            stored = await self.notifications.job_count(job.service_id, job.id)
            if stored >= job.notifications_sent:
                moved += await self._move(job.id, status.FINISHED, status.ALL_CREATED)
        return moved

    async def _move(self, job_id: uuid.UUID, current: str, new: str, **values: Any) -> int:
        assert status.can_move(current, new), (current, new)

        def move(conn: Connection) -> int:
            query = update(jobs).where(jobs.c.id == job_id, jobs.c.job_status == current)
            if current == status.IN_PROGRESS:  # only the worker holding the lease ends its job
                query = query.where(jobs.c.lease_owner == self.owner)
            result = conn.execute(query.values(job_status=new, updated_at=datetime.now(UTC), **values))
            return result.rowcount or 0

        moved = await self.db.transaction(move)
        if moved:
            log.info("jobs.status_changed", job_id=str(job_id), previous=current, status=new)
        return moved

    async def process(self, job: Any) -> None:
        service = await self.notifications.service(job.service_id)
        if service is None or not service["active"]:
            await self._move(
                job.id, status.IN_PROGRESS, status.CANCELLED, processing_finished=datetime.now(UTC)
            )
            return
        template = await self.notifications.template(job.service_id, job.template_id, job.template_version)
        if template is None:
            raise NotificationsUnavailable("template version not found")
        if job.processing_started is None and not await self._reserve(job, service):
            return
        data_id = await self.db.transaction(
            lambda conn: conn.execute(select(uploads.c.data_id).where(uploads.c.id == job.id)).scalar_one()
        )
        try:
            await self._announce(job, service, template, data_id)
        except (
            JobFileInvalid
        ) as exc:  # cannot happen to a file that passed its check; never retried in a loop
            log.error("jobs.file_invalid", job_id=str(job.id), problems=[p.code for p in exc.problems])
            await self._move(job.id, status.IN_PROGRESS, status.ERROR, processing_finished=datetime.now(UTC))
            return
        await self._move(job.id, status.IN_PROGRESS, status.FINISHED, processing_finished=datetime.now(UTC))

    async def _reserve(self, job: Any, service: dict[str, Any]) -> bool:
        """The whole job against today's limit, once; then ``processing_started`` records that it was done."""
        if self.daily_limits is not None:
            try:
                await self.daily_limits.reserve(
                    job.service_id,
                    job.template_type,
                    int(service["limits"][job.template_type]),
                    amount=job.notification_count,
                )
            except DailyLimitExceeded:
                await self._move(
                    job.id, status.IN_PROGRESS, status.LIMITS_EXCEEDED, processing_finished=datetime.now(UTC)
                )
                return False
        await self._progress(job.id, processing_started=datetime.now(UTC))
        return True

    async def _progress(self, job_id: uuid.UUID, **values: Any) -> None:
        def record(conn: Connection) -> int:
            return (
                conn.execute(
                    update(jobs)
                    .where(
                        jobs.c.id == job_id,
                        jobs.c.lease_owner == self.owner,
                        jobs.c.job_status == status.IN_PROGRESS,
                    )
                    .values(
                        lease_until=text(f"now() + interval '{self.lease.total_seconds()} seconds'"), **values
                    )
                ).rowcount
                or 0
            )

        if not await self.db.transaction(record):
            raise LeaseLost(str(job_id))

    async def _announce(
        self, job: Any, service: dict[str, Any], template: dict[str, Any], data_id: uuid.UUID
    ) -> None:
        info = template_info(service, template)
        rules = service_rules(service, job.template_type)
        sender = sender_for(service, job.template_type, job.sender_id)
        created_at = datetime.now(UTC)
        rows_done, sent = job.rows_processed, job.notifications_sent
        correlation_id = str(job.id)
        batch_size = self.settings.job_batch_size
        bundle_size = self.settings.job_bundle_size

        source = iter_prepared(storage.stored_rows(self.db.engine, data_id), info, rules, start_row=rows_done)

        def next_batch() -> tuple[list[Envelope[Any]], int]:
            """Up to a batch of rows, as events ready to publish, and how many rows were read for them."""
            events = []
            read = 0
            for row in itertools.islice(source, batch_size):
                read += 1
                if isinstance(row, RowFailure):
                    # Checked when uploaded, failing now: the template or the service changed since. Not sent;
                    # logged by row (the problems' codes only: never a recipient or a value).
                    log.warning(
                        "jobs.row_no_longer_valid",
                        job_id=str(job.id),
                        job_row_number=row.job_row_number,
                        problems=[e.code for e in row.errors],
                    )
                    continue
                if not row.allowed:  # trial mode: rows to recipients outside the team are skipped (Notify)
                    continue
                events.append(
                    new_envelope(
                        row_event(row, job=job, sender=sender, created_at=created_at),
                        producer="jobs",
                        correlation_id=correlation_id,
                    )
                )
            return events, read

        try:
            while True:
                await self._wait_for_room(job.id)
                events, read = await self.db.run(next_batch)
                if not read:
                    break
                # Each row keeps its own event; they travel in bundles (one message, one confirm per bundle).
                await asyncio.gather(
                    *(
                        self.broker.publish_bundle(events[i : i + bundle_size], correlation_id=correlation_id)
                        for i in range(0, len(events), bundle_size)
                    )
                )
                rows_done += read
                sent += len(events)
                await self._progress(job.id, rows_processed=rows_done, notifications_sent=sent)
        finally:
            source.close()
        log.info("jobs.rows_announced", job_id=str(job.id), rows=rows_done, notifications=sent)

    async def _wait_for_room(self, job_id: uuid.UUID) -> None:
        """Back-pressure: wait while notifications is this far behind, keeping the lease."""
        limit = self.settings.job_max_queue_depth
        waited = 0.0
        while (depth := await self.broker.queue_depth(NOTIFICATIONS_QUEUE)) is not None and depth > limit:
            await asyncio.sleep(0.2)
            waited += 0.2
            if waited >= self.lease.total_seconds() / 3:
                await self._progress(job_id)
                waited = 0.0
