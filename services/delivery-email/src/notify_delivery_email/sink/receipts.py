"""The sink's SES-like receipts: scheduled with loop timers, POSTed by a fixed pool of workers sharing one aiohttp
session (kept-alive connections, at most one per worker).

No task is created per message: a receipt is a small record put on a queue when its timer fires. A message's
receipts are POSTed in order, each ``receipt_delay_ms`` after the previous one landed. A POST that fails (refused,
timed out, non-2xx) is put back on a timer with exponential backoff until ``receipt_retry_for_seconds`` have passed
since its first attempt, so receipts survive a receiver restart. Nothing personal is logged.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
import orjson
import structlog

from .settings import SinkSettings

log = structlog.get_logger("notify_delivery_email.sink.receipts")

# Idle connections are dropped before a typical receiver's keep-alive timeout (uvicorn's default is 5 s), so a
# worker rarely writes to a connection the receiver is closing.
KEEPALIVE_SECONDS = 4.0


def receipt_bodies(message_id: str, outcome: str) -> list[dict[str, Any]]:
    """SES-like notifications for one message, in the order they are to be delivered."""
    now = datetime.now(UTC).isoformat()
    mail = {"messageId": message_id, "timestamp": now}
    delivery = {"notificationType": "Delivery", "mail": mail, "delivery": {"timestamp": now}}
    if outcome == "permanent-bounce":
        return [{"notificationType": "Bounce", "mail": mail, "bounce": {"bounceType": "Permanent"}}]
    if outcome == "temporary-bounce":
        return [{"notificationType": "Bounce", "mail": mail, "bounce": {"bounceType": "Transient"}}]
    if outcome == "complaint":
        return [delivery, {"notificationType": "Complaint", "mail": mail, "complaint": {"timestamp": now}}]
    return [delivery]


@dataclass(slots=True)
class PendingReceipt:
    reference: str
    body: bytes
    # The message's next receipt, scheduled only once this one has landed (keeps them in order).
    then: PendingReceipt | None = None
    attempts: int = 0
    first_attempt_at: float | None = None


@dataclass
class ReceiptCounters:
    scheduled: int = 0
    sent: int = 0
    retried: int = 0
    abandoned: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "scheduled": self.scheduled,
            "sent": self.sent,
            "retried": self.retried,
            "abandoned": self.abandoned,
            "outstanding": self.scheduled - self.sent - self.abandoned,
        }


@dataclass
class ReceiptPoster:
    settings: SinkSettings
    counters: ReceiptCounters = field(default_factory=ReceiptCounters)

    def __post_init__(self) -> None:
        self._queue: asyncio.Queue[PendingReceipt] | None = None
        self._workers: list[asyncio.Task[None]] = []
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self._delay = self.settings.receipt_delay_ms / 1000
        self._failures_unlogged = 0
        self._last_failure_log = float("-inf")

    @property
    def enabled(self) -> bool:
        return bool(self.settings.receipt_url)

    async def start(self) -> None:
        self._start()

    def _start(self) -> None:
        if self._loop is not None or not self.enabled or self._closed:
            return
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        workers = self.settings.receipt_workers
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=workers, keepalive_timeout=KEEPALIVE_SECONDS),
            timeout=aiohttp.ClientTimeout(total=self.settings.receipt_timeout_ms / 1000),
            headers={
                "Authorization": f"Bearer {self.settings.receipt_token}",
                "Content-Type": "application/json",
            },
            cookie_jar=aiohttp.DummyCookieJar(),
            trust_env=False,
        )
        self._workers = [
            self._loop.create_task(self._work(), name=f"email-sink-receipts-{i}") for i in range(workers)
        ]

    async def aclose(self) -> None:
        self._closed = True
        for task in self._workers:
            task.cancel()
        if self._workers:
            await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers = []
        if self._session is not None:
            await self._session.close()
            self._session = None

    def schedule(self, reference: str, bodies: list[dict[str, Any]]) -> None:
        """POST ``bodies`` in order, each ``receipt_delay_ms`` after the previous one landed."""
        if not self.enabled or self._closed or not bodies:
            return
        self._start()
        first: PendingReceipt | None = None
        for body in reversed(bodies):
            first = PendingReceipt(reference, orjson.dumps(body), then=first)
        assert first is not None
        self.counters.scheduled += len(bodies)
        self._later(self._delay, first)

    def _later(self, delay: float, receipt: PendingReceipt) -> None:
        assert self._loop is not None
        if delay <= 0:
            self._enqueue(receipt)
        else:
            self._loop.call_later(delay, self._enqueue, receipt)

    def _enqueue(self, receipt: PendingReceipt) -> None:
        if not self._closed and self._queue is not None:
            self._queue.put_nowait(receipt)

    async def _post(self, session: aiohttp.ClientSession, url: str, receipt: PendingReceipt) -> int:
        """The receiver's HTTP status (its body is read and dropped, so the connection can be reused)."""
        async with session.post(url, data=receipt.body, allow_redirects=False) as response:
            await response.read()
            return response.status

    async def _work(self) -> None:
        assert self._queue is not None and self._loop is not None and self._session is not None
        assert self.settings.receipt_url
        queue, loop, session, url = self._queue, self._loop, self._session, self.settings.receipt_url
        while True:
            receipt = await queue.get()
            if receipt.first_attempt_at is None:
                receipt.first_attempt_at = loop.time()
            receipt.attempts += 1
            problem: str | None = None
            try:
                status = await self._post(session, url, receipt)
                if not 200 <= status < 300:
                    problem = f"HTTP {status}"
            except Exception as exc:  # refused, lost, timed out: the worker must keep draining
                problem = type(exc).__name__
            if problem is None:
                self.counters.sent += 1
                if receipt.then is not None:
                    self._later(self._delay, receipt.then)
                continue
            if loop.time() - receipt.first_attempt_at >= self.settings.receipt_retry_for_seconds:
                self.counters.abandoned += 1
                log.warning(
                    "email_receipt_abandoned",
                    reference=receipt.reference,
                    attempts=receipt.attempts,
                    problem=problem,
                )
                if receipt.then is not None:
                    self._later(self._delay, receipt.then)
                continue
            self._note_failure(receipt, problem)
            self.counters.retried += 1
            delay_ms = min(
                self.settings.receipt_retry_initial_ms * 2 ** min(receipt.attempts - 1, 20),
                self.settings.receipt_retry_max_ms,
            )
            self._later(delay_ms / 1000, receipt)

    def _note_failure(self, receipt: PendingReceipt, problem: str) -> None:
        """Log failed POSTs at most once a second (a receiver outage would otherwise flood the log)."""
        assert self._loop is not None
        self._failures_unlogged += 1
        now = self._loop.time()
        if now - self._last_failure_log >= 1.0:
            log.warning(
                "email_receipt_post_failed",
                reference=receipt.reference,
                attempt=receipt.attempts,
                problem=problem,
                failures_since_last_log=self._failures_unlogged,
            )
            self._failures_unlogged = 0
            self._last_failure_log = now
