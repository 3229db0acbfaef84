"""POSTing webhooks in order, with retries: a fixed pool of workers sharing one kept-alive aiohttp session.

Used by the provider simulators to post delivery receipts back to the platform (the SMS simulators, the SMTP sink),
the way a real provider does. No task is created per message: a webhook is a small record put on a queue when its
timer fires. A chain of webhooks (``then``) about one message is posted in order, each ``delay_ms`` after the
previous one landed. A POST that fails (refused, timed out, non-2xx) is put back on a timer with exponential
backoff (with jitter) until ``retry_for_seconds`` have passed since its first attempt, so nothing is lost while the
receiver restarts. Failures are logged at most once a second; only the webhook's ``key`` (an id) is logged.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from .logging import get_logger

log = get_logger(__name__)

# Idle connections are dropped before a typical receiver's keep-alive timeout (uvicorn's default is 5 s), so a
# worker rarely writes to a connection the receiver is closing.
KEEPALIVE_SECONDS = 4.0


@dataclass(slots=True)
class Webhook:
    key: str  # what it is about (a notification id or provider reference): the only thing logged
    body: bytes
    content_type: str = "application/json"
    # The next webhook about the same message, scheduled only once this one is done (keeps them in order).
    then: Webhook | None = None
    attempts: int = 0
    first_attempt_at: float | None = None


@dataclass
class WebhookCounters:
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


@dataclass(frozen=True)
class PosterConfig:
    url: str | None  # None: nothing is posted (and nothing counted)
    name: str  # log events are ``<name>_receipt_post_failed`` and ``<name>_receipt_abandoned``
    key_field: str = "reference"  # the name the webhook's key is logged under
    headers: dict[str, str] = field(default_factory=dict)  # sent with every POST (authorisation, say)
    workers: int = 64
    delay_ms: int = 200
    timeout_ms: int = 5000
    retry_initial_ms: int = 250
    retry_max_ms: int = 10_000
    retry_for_seconds: float = 300.0
    seed: int | None = None  # of the backoff jitter

    @classmethod
    def from_settings(
        cls, settings: Any, *, name: str, headers: dict[str, str], key_field: str = "reference"
    ) -> PosterConfig:
        """From a simulator's settings, whose ``receipt_*`` fields (url, workers, delay_ms, timeout_ms,
        retry_initial_ms, retry_max_ms, retry_for_seconds) and optional ``seed`` say how to post."""
        return cls(
            url=settings.receipt_url,
            name=name,
            key_field=key_field,
            headers=headers,
            workers=settings.receipt_workers,
            delay_ms=settings.receipt_delay_ms,
            timeout_ms=settings.receipt_timeout_ms,
            retry_initial_ms=settings.receipt_retry_initial_ms,
            retry_max_ms=settings.receipt_retry_max_ms,
            retry_for_seconds=settings.receipt_retry_for_seconds,
            seed=getattr(settings, "seed", None),
        )


class WebhookPoster:
    def __init__(self, config: PosterConfig) -> None:
        self.config = config
        self.counters = WebhookCounters()
        self._queue: asyncio.Queue[Webhook] | None = None
        self._workers: list[asyncio.Task[None]] = []
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self._delay = config.delay_ms / 1000
        self._jitter = random.Random(config.seed)
        self._failures_unlogged = 0
        self._last_failure_log = float("-inf")

    @property
    def delay_ms(self) -> int:
        return round(self._delay * 1000)

    @delay_ms.setter
    def delay_ms(self, value: int) -> None:
        """Applies to webhooks scheduled from now on."""
        self._delay = value / 1000

    @property
    def enabled(self) -> bool:
        return bool(self.config.url)

    @property
    def started(self) -> bool:
        return self._loop is not None

    def start(self) -> None:
        """Start the workers (with the event loop running); done by the first ``schedule`` if not before."""
        if self._loop is not None or not self.enabled or self._closed:
            return
        parts = urlsplit(self.config.url or "")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{self.config.name} receipt URL must be an absolute http(s) URL")
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        workers = self.config.workers
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=workers, keepalive_timeout=KEEPALIVE_SECONDS),
            timeout=aiohttp.ClientTimeout(total=self.config.timeout_ms / 1000),
            headers=self.config.headers,
            cookie_jar=aiohttp.DummyCookieJar(),
            trust_env=False,
        )
        self._workers = [
            self._loop.create_task(self._work(), name=f"{self.config.name}-webhooks-{i}")
            for i in range(workers)
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

    def schedule(self, webhook: Webhook) -> None:
        """Post ``webhook`` (and, after it, its ``then`` chain) after the configured delay."""
        if not self.enabled or self._closed:
            return
        self.start()
        link: Webhook | None = webhook
        while link is not None:
            self.counters.scheduled += 1
            link = link.then
        self._later(self._delay, webhook)

    def _later(self, delay: float, webhook: Webhook) -> None:
        assert self._loop is not None
        if delay <= 0:
            self._enqueue(webhook)
        else:
            self._loop.call_later(delay, self._enqueue, webhook)

    def _enqueue(self, webhook: Webhook) -> None:
        if not self._closed and self._queue is not None:
            self._queue.put_nowait(webhook)

    async def _post(self, session: aiohttp.ClientSession, url: str, webhook: Webhook) -> int:
        """The receiver's HTTP status (its body is read and dropped, so the connection can be reused)."""
        async with session.post(
            url, data=webhook.body, headers={"Content-Type": webhook.content_type}, allow_redirects=False
        ) as response:
            await response.read()
            return response.status

    async def _work(self) -> None:
        assert self._queue is not None and self._loop is not None and self._session is not None
        assert self.config.url
        queue, loop, session, url = self._queue, self._loop, self._session, self.config.url
        while True:
            webhook = await queue.get()
            if webhook.first_attempt_at is None:
                webhook.first_attempt_at = loop.time()
            webhook.attempts += 1
            problem: str | None = None
            try:
                status = await self._post(session, url, webhook)
                if not 200 <= status < 300:
                    problem = f"HTTP {status}"
            except Exception as exc:  # refused, lost, timed out, garbage: the worker must keep draining
                problem = type(exc).__name__
            if problem is None:
                self.counters.sent += 1
                if webhook.then is not None:
                    self._later(self._delay, webhook.then)
                continue
            self._note_failure(webhook, problem)
            if loop.time() - webhook.first_attempt_at < self.config.retry_for_seconds:
                self.counters.retried += 1
                backoff_ms = min(
                    self.config.retry_initial_ms * 2 ** min(webhook.attempts - 1, 20),
                    self.config.retry_max_ms,
                )
                self._later(backoff_ms / 1000 * (0.75 + self._jitter.random() * 0.5), webhook)
                continue
            self.counters.abandoned += 1
            log.warning(
                f"{self.config.name}_receipt_abandoned",
                **{self.config.key_field: webhook.key},
                attempts=webhook.attempts,
                problem=problem,
            )
            if webhook.then is not None:
                self._later(self._delay, webhook.then)

    def _note_failure(self, webhook: Webhook, problem: str) -> None:
        """Log failed POSTs at most once a second (a receiver outage would otherwise flood the log)."""
        assert self._loop is not None
        self._failures_unlogged += 1
        now = self._loop.time()
        if now - self._last_failure_log >= 1.0:
            log.warning(
                f"{self.config.name}_receipt_post_failed",
                **{self.config.key_field: webhook.key},
                attempt=webhook.attempts,
                problem=problem,
                failures_since_last_log=self._failures_unlogged,
            )
            self._failures_unlogged = 0
            self._last_failure_log = now
