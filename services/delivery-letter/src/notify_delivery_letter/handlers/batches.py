"""Print batches: letters collected on the schedule, each batch uploaded once to the print provider.

Collection (``collect``): when a run is due (``domain.schedule``), every ready letter created before the run's cut-off
goes into new ``pending`` batches, under an advisory lock and ``FOR UPDATE SKIP LOCKED`` so replicas never collect a
letter twice (and, in daily mode, a day is collected once: ``print_runs``).

Upload (``upload_next``): a replica *leases* the oldest due batch (committed), builds the archive from its letters
(cancelled ones left out), closes its transaction, and uploads it with the batch id as idempotency key — no database
transaction is held open during the slow provider call. Then, in one transaction: accepted → the batch ``sent``, its
letters still waiting ``sent`` and reported ``sending`` with the provider's reference; a retryable failure →
tried again after the retry delay, up to the configured number of retries, then ``technical-failure``; any other
failure → ``technical-failure``. A replica that dies mid-upload leaves the lease to run out; the next attempt sends the
same key, so the provider answers with the first upload's result and prints nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from notify_platform.db import Database
from notify_platform.logging import get_logger
from sqlalchemy.engine import Connection

from ..adapters import store
from ..adapters.print_provider import PrintProvider, PrintProviderError, UploadResult
from ..adapters.print_wire import build_archive
from ..adapters.reports import Reports
from ..domain.schedule import BatchSchedule

log = get_logger(__name__)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class PrintBatcher:
    def __init__(
        self,
        db: Database,
        provider: PrintProvider,
        schedule: BatchSchedule,
        *,
        max_letters: int = 500,
        max_bytes: int = 50 * 1024 * 1024,
        retries: int = 55,
        retry_delay_seconds: float = 180.0,
        lease_seconds: float = 600.0,
        upload_poll_seconds: float = 1.0,
        on_reported: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.db = db
        self.provider = provider
        self.schedule = schedule
        self.max_letters = max_letters
        self.max_bytes = max_bytes
        self.retries = retries
        self.retry_delay = timedelta(seconds=retry_delay_seconds)
        self.lease_seconds = lease_seconds
        self.upload_poll_seconds = upload_poll_seconds
        self.on_reported = on_reported
        self.clock = clock
        self._collected_day: date | None = None
        self._upload_wake = asyncio.Event()

    # --- collection -----------------------------------------------------------------------------------------
    async def collect(self) -> list[uuid.UUID]:
        """Collect the run due now, if any; returns the new batches' ids."""
        now = self.clock()
        run = self.schedule.due_run(now)
        if run is None or (run.print_day is not None and run.print_day == self._collected_day):
            return []
        made = await self.db.transaction(
            lambda conn: store.collect(
                conn, run, now=now, max_letters=self.max_letters, max_bytes=self.max_bytes
            )
        )
        if made is None:  # another replica is collecting
            return []
        if run.print_day is not None:
            self._collected_day = run.print_day
        if made:
            log.info("delivery.letter.batches_collected", batches=len(made), cutoff=run.cutoff.isoformat())
            self._upload_wake.set()
        return made

    async def run_collector(self) -> None:
        while True:
            try:
                await self.collect()
            except Exception:  # a database outage must not stop the schedule
                log.exception("delivery.letter.collect_failed")
            await asyncio.sleep(self.schedule.seconds_to_wait(self.clock()))

    # --- upload -------------------------------------------------------------------------------------------------
    async def upload_next(self) -> bool:
        """Make one upload attempt for the oldest due batch. False if no batch was due."""
        leased = await self.db.transaction(
            lambda conn: store.lease_batch(conn, now=self.clock(), lease_seconds=self.lease_seconds)
        )
        if leased is None:
            return False
        batch_id = str(leased.id)
        letters = await self.db.transaction(lambda conn: store.batch_letters(conn, leased.id))
        if not letters:
            await self.db.transaction(lambda conn: store.mark_empty(conn, leased.id))
            log.info("delivery.letter.batch_empty", batch_id=batch_id)
            return True
        archive = await asyncio.to_thread(build_archive, batch_id, leased.created_at, letters)
        try:
            result = await self.provider.upload(batch_id, archive)
        except PrintProviderError as exc:
            await self._upload_refused(leased.id, leased.attempts, str(exc), retryable=exc.retryable)
            return True
        sent = await self.db.transaction(lambda conn: self._sent(conn, leased.id, result))
        self.on_reported()
        log.info(
            "delivery.letter.batch_sent",
            batch_id=batch_id,
            letters=len(letters),
            reported=sent,
            attempt=leased.attempts,
            replayed=result.replayed,
            batch_reference=result.batch_reference,
        )
        return True

    async def _upload_refused(
        self, batch_id: uuid.UUID, attempt: int, error: str, *, retryable: bool
    ) -> None:
        if retryable and attempt <= self.retries:
            next_attempt_at = self.clock() + self.retry_delay
            await self.db.transaction(
                lambda conn: store.schedule_retry(
                    conn, batch_id, error=error, next_attempt_at=next_attempt_at
                )
            )
            log.warning("delivery.letter.upload_retry", batch_id=str(batch_id), attempt=attempt, error=error)
            return
        failed = await self.db.transaction(lambda conn: self._failed(conn, batch_id, error))
        self.on_reported()
        log.error(
            "delivery.letter.upload_failed",
            batch_id=str(batch_id),
            attempts=attempt,
            letters=failed,
            error=error,
        )

    async def run_uploader(self) -> None:
        while True:
            try:
                busy = await self.upload_next()
            except Exception:  # the lease runs out and the batch is tried again
                log.exception("delivery.letter.upload_crashed")
                busy = False
            if busy:
                continue
            self._upload_wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._upload_wake.wait(), self.upload_poll_seconds)

    def _sent(self, conn: Connection, batch_id: uuid.UUID, result: UploadResult) -> int:
        sent_at = self.clock()
        moved = store.mark_sent(
            conn,
            batch_id,
            batch_reference=result.batch_reference,
            references=result.references,
            sent_at=sent_at,
        )
        reports = Reports()
        for row in moved:
            reports.add(
                row.notification_id,
                "sending",
                correlation_id=row.correlation_id,
                provider=self.provider.name,
                provider_reference=row.provider_reference,
                sent_at=sent_at,
            )
        return reports.write(conn)

    def _failed(self, conn: Connection, batch_id: uuid.UUID, error: str) -> int:
        reports = Reports()
        for row in store.mark_failed(conn, batch_id, error=error):
            reports.add(
                row.notification_id,
                "technical-failure",
                correlation_id=row.correlation_id,
                provider=self.provider.name,
                detail=f"The print provider did not accept the letter: {error}"[:200],
            )
        return reports.write(conn)
