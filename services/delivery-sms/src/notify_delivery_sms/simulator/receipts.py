"""Delivery receipts: scheduled with loop timers, POSTed by a fixed pool of workers sharing one aiohttp session.

No task or session is created per message: a receipt is a small record put on a queue when its timer fires, and
the workers share one ``aiohttp.ClientSession`` holding at most one kept-alive connection per worker.
A POST that fails (connection refused, timeout, non-2xx) is put back on a timer with exponential backoff until
``receipt_retry_for_seconds`` have passed since its first attempt, so receipts survive a receiver restart.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import aiohttp
import structlog

from .settings import SimulatorSettings

log = structlog.get_logger("notify_delivery_sms.simulator.receipts")

# Idle connections are dropped before a typical receiver's keep-alive timeout (uvicorn's default is 5 s), so a
# worker rarely writes to a connection the receiver is closing.
KEEPALIVE_SECONDS = 4.0


@dataclass(slots=True)
class PendingReceipt:
    notification_id: str
    body: bytes
    content_type: str
    # A later receipt for the same message, scheduled only once this one is done (keeps them in order).
    then: PendingReceipt | None = None
    attempts: int = 0
    first_attempt_at: float | None = None


@dataclass
class ReceiptCounters:
    scheduled: int = 0
    sent: int = 0
    retried: int = 0
    abandoned: int = 0

    @property
    def outstanding(self) -> int:
        return self.scheduled - self.sent - self.abandoned

    def as_dict(self) -> dict[str, int]:
        return {
            "scheduled": self.scheduled,
            "sent": self.sent,
            "retried": self.retried,
            "abandoned": self.abandoned,
            "outstanding": self.outstanding,
        }


@dataclass
class ReceiptDispatcher:
    settings: SimulatorSettings
    counters: ReceiptCounters = field(default_factory=ReceiptCounters)

    def __post_init__(self) -> None:
        self._queue: asyncio.Queue[PendingReceipt] | None = None
        self._workers: list[asyncio.Task[None]] = []
        self._session: aiohttp.ClientSession | None = None
        self._url = self.settings.receipt_url or ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self._delay = self.settings.receipt_delay_ms / 1000
        self._jitter = random.Random(self.settings.seed)
        self._auth = aiohttp.encode_basic_auth(self.settings.receipt_username, self.settings.receipt_password)
        self._failures_unlogged = 0
        self._last_failure_log = 0.0

    @property
    def delay_ms(self) -> int:
        return round(self._delay * 1000)

    @delay_ms.setter
    def delay_ms(self, value: int) -> None:
        """Applies to receipts scheduled from now on."""
        self._delay = value / 1000

    @property
    def enabled(self) -> bool:
        return bool(self.settings.receipt_url)

    @property
    def started(self) -> bool:
        return self._loop is not None

    def start(self) -> None:
        if self._loop is not None or not self.enabled:
            return
        parts = urlsplit(self._url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("receipt URL must be an absolute http(s) URL")
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        workers = self.settings.receipt_workers
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=workers, keepalive_timeout=KEEPALIVE_SECONDS),
            timeout=aiohttp.ClientTimeout(total=self.settings.receipt_timeout_ms / 1000),
            headers={"Authorization": self._auth},
            cookie_jar=aiohttp.DummyCookieJar(),
            trust_env=False,
        )
        self._workers = [
            self._loop.create_task(self._work(), name=f"sms-sim-receipts-{i}") for i in range(workers)
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

    def schedule(self, receipt: PendingReceipt) -> None:
        """Queue ``receipt`` (and, after it, its ``then`` chain) to be POSTed after the configured delay."""
        if not self.enabled or self._closed:
            return
        self.start()
        link: PendingReceipt | None = receipt
        while link is not None:
            self.counters.scheduled += 1
            link = link.then
        self._later(self._delay, receipt)

    def _later(self, delay: float, receipt: PendingReceipt) -> None:
        assert self._loop is not None
        if delay <= 0:
            self._enqueue(receipt)
        else:
            self._loop.call_later(delay, self._enqueue, receipt)

    def _enqueue(self, receipt: PendingReceipt) -> None:
        if not self._closed and self._queue is not None:
            self._queue.put_nowait(receipt)

    async def _post(self, session: aiohttp.ClientSession, receipt: PendingReceipt) -> int:
        """The receiver's HTTP status (its body is read and dropped, so the connection can be reused)."""
        async with session.post(
            self._url,
            data=receipt.body,
            headers={"Content-Type": receipt.content_type},
            allow_redirects=False,
        ) as response:
            await response.read()
            return response.status

    async def _work(self) -> None:
        assert self._queue is not None and self._loop is not None and self._session is not None
        queue, loop, session = self._queue, self._loop, self._session
        while True:
            receipt = await queue.get()
            if receipt.first_attempt_at is None:
                receipt.first_attempt_at = loop.time()
            receipt.attempts += 1
            problem: str | None = None
            try:
                status = await self._post(session, receipt)
                if not 200 <= status < 300:
                    problem = f"HTTP {status}"
            except Exception as exc:  # refused, lost, timed out, garbage: the worker must keep draining
                problem = type(exc).__name__
            if problem is None:
                self.counters.sent += 1
                if receipt.then is not None:
                    self._later(self._delay, receipt.then)
                continue
            self._note_failure(receipt, problem)
            elapsed = loop.time() - receipt.first_attempt_at
            if elapsed < self.settings.receipt_retry_for_seconds:
                self.counters.retried += 1
                backoff_ms = min(
                    self.settings.receipt_retry_initial_ms * 2 ** min(receipt.attempts - 1, 20),
                    self.settings.receipt_retry_max_ms,
                )
                self._later(backoff_ms / 1000 * (0.75 + self._jitter.random() * 0.5), receipt)
            else:
                self.counters.abandoned += 1
                log.warning(
                    "sms_receipt_abandoned",
                    notification_id=receipt.notification_id,
                    attempts=receipt.attempts,
                    problem=problem,
                )
                if receipt.then is not None:
                    self._later(self._delay, receipt.then)

    def _note_failure(self, receipt: PendingReceipt, problem: str) -> None:
        """Log failed POSTs at most once a second (a receiver outage would otherwise flood the log)."""
        assert self._loop is not None
        self._failures_unlogged += 1
        now = self._loop.time()
        if now - self._last_failure_log >= 1.0:
            log.warning(
                "sms_receipt_post_failed",
                notification_id=receipt.notification_id,
                attempt=receipt.attempts,
                problem=problem,
                failures_since_last_log=self._failures_unlogged,
            )
            self._failures_unlogged = 0
            self._last_failure_log = now
