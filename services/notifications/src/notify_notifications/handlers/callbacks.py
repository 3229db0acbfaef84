"""Service callbacks (behaviour.md §11): queueing delivery-status callbacks from status changes, and the dispatcher
that posts every queued callback.

* **Queueing**: ``notification.status_changed`` (from the outbox, so every change is seen, the sending timeout's
  included) becomes a ``delivery_status`` callback for texts and emails whose service configured one, in the
  handler's transaction (idempotent by the event id). Complaints, returned letters and inbound texts queue theirs
  where they are stored, through the same ``callback_queue.enqueue``.
* **Dispatching**: callbacks are claimed with a lease, at most ``CALLBACK_MAX_IN_FLIGHT_PER_SERVICE`` of a service at
  a time across every replica, services taking turns, so one slow or dead endpoint only ever holds its own service's
  slots. Each POST has the service's current URL and token (read with the claim, just before sending), 5 s in all
  (name resolution included) and passes the SSRF guard. An outcome is recorded only while the lease is held.
  Outcomes: 2xx delivered; a connection
  error, a timeout, 5xx or 429 retried after ``CALLBACK_RETRY_DELAYS`` (5 × 300 s by default), then ``exhausted``
  (kept for ``notifyctl replay-callbacks``); any other answer, a refused target or a configuration removed since:
  ``failed``, never retried. A dispatcher that dies mid-POST leaves the lease to run out and the callback is sent
  again (at least once).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from notify_contracts import Envelope, NotificationStatusChangedV1
from notify_platform.db import Database
from notify_platform.logging import get_logger
from notify_platform.metrics import CALLBACKS_SENT
from sqlalchemy import select
from sqlalchemy.engine import Connection

from ..adapters import callback_queue as queue
from ..adapters.callback_http import CallbackPoster, TargetRefused
from ..adapters.crypto import SecretBox
from ..adapters.tables import notifications
from ..domain import callbacks

log = get_logger(__name__)


def queue_status_callbacks(conn: Connection, envelopes: Sequence[Envelope[Any]]) -> int:
    """A delivery-status callback for each status change owed one. Returns how many were queued."""
    changes = [
        (env, env.payload)
        for env in envelopes
        if isinstance(env.payload, NotificationStatusChangedV1)
        and env.payload.notification_type in ("sms", "email")
        and env.payload.status in callbacks.STATUSES_CALLED_BACK
    ]
    if not changes:
        return 0
    known = queue.configured(conn, ((p.service_id, callbacks.DELIVERY_STATUS) for _, p in changes))
    changes = [(env, p) for env, p in changes if (p.service_id, callbacks.DELIVERY_STATUS) in known]
    if not changes:
        return 0
    n = notifications.c
    rows = {
        row.id: row
        for row in conn.execute(
            select(
                n.id,
                n.service_id,
                n.client_reference,
                n.recipient,
                n.normalised_recipient,
                n.created_at,
                n.sent_at,
                n.notification_type,
                n.template_id,
                n.template_version,
            ).where(n.id.in_({p.notification_id for _, p in changes}))
        )
    }
    owed = []
    for env, change in changes:
        row = rows.get(change.notification_id)
        if row is None or not callbacks.delivery_status_owed(
            row.notification_type, change.status, row.normalised_recipient
        ):
            continue
        owed.append(
            callbacks.delivery_status(
                row, status=change.status, completed_at=change.completed_at, event_id=env.event_id
            )
        )
    return queue.enqueue(conn, owed, known=known)


class CallbackDispatcher:
    def __init__(
        self,
        db: Database,
        box: SecretBox,
        poster: CallbackPoster,
        *,
        retry_delays: Sequence[float],
        max_in_flight: int,
        per_service: int,
        poll_interval: float,
        lease: timedelta = timedelta(minutes=2),
    ) -> None:
        self.db = db
        self.box = box
        self.poster = poster
        self.retry_delays = list(retry_delays)
        self.max_in_flight = max_in_flight
        self.per_service = per_service
        self.poll_interval = poll_interval
        self.lease = lease
        self._tasks: set[asyncio.Task[None]] = set()
        self._room = asyncio.Event()

    def wake(self) -> None:
        """Callbacks were just queued: look now rather than at the next poll."""
        self._room.set()

    async def run_forever(self) -> None:
        try:
            while True:
                try:
                    claimed = await self.dispatch_once()
                except Exception as exc:  # the database may be away for a while: keep trying
                    log.warning("callbacks.claim_failed", error=type(exc).__name__)
                    claimed = 0
                if not claimed:
                    self._room.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._room.wait(), self.poll_interval)
        finally:
            for task in self._tasks:
                task.cancel()

    async def dispatch_once(self) -> int:
        """Claim what there is room for and start sending it. Returns how many were claimed."""
        room = self.max_in_flight - len(self._tasks)
        if room <= 0:
            return 0
        rows = await self.db.transaction(
            lambda conn: queue.claim(conn, limit=room, per_service=self.per_service, lease=self.lease)
        )
        for row in rows:
            task = asyncio.create_task(self._send(row))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return len(rows)

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def drain(self) -> None:
        """Wait for every started POST to be recorded (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _send(self, row: Any) -> None:
        try:
            await self._attempt(row)
        except (
            Exception
        ) as exc:  # recorded nothing (the database, most likely): the lease runs out, it is tried again
            log.warning("callbacks.attempt_crashed", callback_id=str(row.id), error=type(exc).__name__)
        finally:
            self._room.set()

    async def _attempt(self, row: Any) -> None:
        attempts = row.attempts + 1
        if row.url is None:  # claimed with the configuration as it is now: removed since it was queued
            await self._record(
                row, queue.FAILED, attempts, None, "no callback configured for its type any more"
            )
            return
        try:
            token = self.box.decrypt(row.bearer_token_encrypted)
        except Exception as exc:  # a token sealed with a key no longer configured: never going to work
            await self._record(
                row, queue.FAILED, attempts, None, f"bearer token unreadable: {type(exc).__name__}"
            )
            return
        try:
            outcome = await self.poster.post(row.url, token, row.payload)
        except TargetRefused as exc:
            await self._record(row, queue.FAILED, attempts, None, str(exc))
            return
        code = outcome.status_code
        if code is not None and 200 <= code < 300:
            await self._record(row, queue.DELIVERED, attempts, code, None)
        elif code is None or code == 429 or code >= 500:
            error = outcome.error or f"HTTP {code}"
            if attempts <= len(self.retry_delays):
                delay = timedelta(seconds=self.retry_delays[attempts - 1])
                await self._record(row, queue.PENDING, attempts, code, error, retry_in=delay)
            else:
                await self._record(row, queue.EXHAUSTED, attempts, code, error)
        else:
            await self._record(row, queue.FAILED, attempts, code, f"HTTP {code}: not retried")

    async def _record(
        self,
        row: Any,
        state: str,
        attempts: int,
        code: int | None,
        error: str | None,
        *,
        retry_in: timedelta | None = None,
    ) -> None:
        held = await self.db.transaction(
            lambda conn: queue.record(
                conn, row, state=state, attempts=attempts, status_code=code, error=error, retry_in=retry_in
            )
        )
        if not held:  # slower than the lease: another dispatcher took the callback over, its outcome stands
            log.warning("callbacks.lease_lost", callback_id=str(row.id), service_id=str(row.service_id))
            return
        CALLBACKS_SENT.labels(callback_type=row.callback_type, outcome=state).inc()
        fields = {
            "callback_id": str(row.id),
            "service_id": str(row.service_id),
            "callback_type": row.callback_type,
            "attempt": attempts,
            "status_code": code,
            "outcome": state,
        }
        if state == queue.DELIVERED:
            log.info("callbacks.delivered", **fields)
        elif state == queue.PENDING:
            log.warning(
                "callbacks.retry_scheduled",
                error=error,
                retry_in_s=retry_in.total_seconds() if retry_in else None,
                **fields,
            )
        else:
            log.error("callbacks.gave_up", error=error, **fields)
