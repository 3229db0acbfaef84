"""The simulator's receipts: one POST per group of receipts, retried with backoff until the receiver takes them.

A receiver that is restarting, or answers 409 (it does not know the letter yet), is tried again until
``receipt_retry_for_seconds`` have passed. Returned-letter receipts follow the despatch receipts of the same upload,
so a letter is never returned before it was despatched.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

import httpx
import structlog

from .settings import PrintSimulatorSettings

log = structlog.get_logger("notify_delivery_letter.simulator.receipts")


@dataclass
class ReceiptCounters:
    scheduled: int = 0
    sent: int = 0
    retried: int = 0
    abandoned: int = 0

    def as_dict(self) -> dict[str, int]:
        outstanding = self.scheduled - self.sent - self.abandoned
        return {**self.__dict__, "outstanding": outstanding}


class ReceiptSender:
    def __init__(
        self, settings: PrintSimulatorSettings, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.settings = settings
        self._transport = transport
        self._auth = httpx.BasicAuth(settings.receipt_username, settings.receipt_password)
        self.counters = ReceiptCounters()
        self._client: httpx.AsyncClient | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def enabled(self) -> bool:
        return bool(self.settings.receipt_url)

    def schedule(
        self, receipts: list[dict[str, Any]], delay: float, *, then: list[dict[str, Any]] | None = None
    ) -> None:
        """POST ``receipts`` after ``delay`` seconds; then, ``return_delay_ms`` later, ``then``."""
        if not self.enabled or not receipts:
            return
        self.counters.scheduled += len(receipts) + len(then or [])
        task = asyncio.get_running_loop().create_task(self._deliver(receipts, delay, then or []))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(
        self, receipts: list[dict[str, Any]], delay: float, then: list[dict[str, Any]]
    ) -> None:
        await asyncio.sleep(delay)
        await self._post_until_taken(receipts)
        if then:
            await asyncio.sleep(self.settings.return_delay_ms / 1000)
            await self._post_until_taken(then)

    async def _post_until_taken(self, receipts: list[dict[str, Any]]) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=5.0, trust_env=False, transport=self._transport)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.receipt_retry_for_seconds
        backoff = 0.25
        while True:
            try:
                response = await self._client.post(
                    str(self.settings.receipt_url), json={"receipts": receipts}, auth=self._auth
                )
                problem = None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                problem = type(exc).__name__
            if problem is None:
                self.counters.sent += len(receipts)
                return
            if loop.time() >= deadline:
                self.counters.abandoned += len(receipts)
                log.warning("print_receipts_abandoned", receipts=len(receipts), problem=problem)
                return
            self.counters.retried += 1
            log.info("print_receipts_retry", receipts=len(receipts), problem=problem, backoff_s=backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 10.0)

    async def report_returned(self, references: list[str]) -> tuple[int, Any]:
        """POST one returned-letter report now (no retries: whoever asked for it sees the answer); returns
        (HTTP status, JSON answer), 502 if the receiver could not be reached."""
        url = self.settings.returned_report_url
        assert url is not None
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=5.0, trust_env=False, transport=self._transport)
        try:
            response = await self._client.post(url, json={"references": references}, auth=self._auth)
        except httpx.HTTPError as exc:
            log.warning(
                "print_returned_report_failed", references=len(references), problem=type(exc).__name__
            )
            return 502, {"error": type(exc).__name__}
        try:
            answer = response.json()
        except ValueError:
            answer = {"error": response.text[:200]}
        log.info("print_returned_reported", references=len(references), status=response.status_code)
        return response.status_code, answer

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        if self._client is not None:
            await self._client.aclose()
            self._client = None
