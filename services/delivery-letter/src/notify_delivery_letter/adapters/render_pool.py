"""Letter PDFs made in worker processes, so they are rendered on every core and off the event loop.

reportlab (templated letters) and pypdf (precompiled checks) are pure Python and CPU-bound: in a thread they hold
the GIL against the event loop and use one core at most. ``RenderPool`` runs the domain's pure functions
(``domain.letters.render_templated`` and ``check_precompiled``) in a ``ProcessPoolExecutor`` of ``processes``
workers, started with the service (each worker renders one letter first, so the first real letters do not pay for
imports) and shut down when it stops; a service that is killed takes its workers with it (each leaves as soon as
its parent is gone). Workers are *spawned*: the service's threads, sockets and connections are never forked into
them. Templated letters travel in chunks, one per worker, so a batch costs a few round trips
between processes rather than one per letter.

A worker that dies (killed, out of memory, a crash in a C extension) breaks the whole executor: every letter it
held fails with ``RenderWorkerLost``, a passing failure (the consumer retries those letters; their ledger rows stay
``claimed``), and the pool is replaced by a fresh one for the letters that follow. An unexpected exception while
rendering one letter fails that letter alone, with ``RenderFailed`` naming only the exception type (its message
could quote the letter).

``InlineRenderer`` does the same work in a thread of the service process (``LETTER_RENDER_PROCESSES=0``; tests).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime
from typing import Protocol, TypeVar

from notify_contracts import LetterDeliveryRequestedV1
from notify_platform.logging import get_logger

from ..domain.letters import Prepared, check_precompiled, render_templated

log = get_logger(__name__)
T = TypeVar("T")
PARENT_CHECK_SECONDS = 1.0


class RenderWorkerLost(Exception):
    """The worker process making this letter died: retried (the letter is made again from its request)."""


class RenderFailed(Exception):
    """Rendering or checking this letter raised something unexpected: retried, then ``technical-failure``."""


class Renderer(Protocol):
    async def render(self, requests: Sequence[LetterDeliveryRequestedV1]) -> list[Prepared | Exception]: ...

    async def check(self, request: LetterDeliveryRequestedV1, pdf: bytes, *, infected: bool) -> Prepared: ...


# --- what runs in a worker (module-level functions: they are pickled by name) -----------------------------------
def render_chunk(requests: Sequence[LetterDeliveryRequestedV1]) -> list[Prepared | Exception]:
    """Render each letter; an unexpected exception fails that letter only."""
    out: list[Prepared | Exception] = []
    for request in requests:
        try:
            out.append(render_templated(request))
        except Exception as exc:
            out.append(RenderFailed(f"rendering the letter failed ({type(exc).__name__})"))
    return out


def check_one(request: LetterDeliveryRequestedV1, pdf: bytes, infected: bool) -> Prepared:
    try:
        return check_precompiled(request, pdf, infected=infected)
    except Exception as exc:
        raise RenderFailed(f"checking the letter failed ({type(exc).__name__})") from None


_NIL = uuid.UUID(int=0)
WARM_UP = LetterDeliveryRequestedV1(
    notification_id=_NIL,
    service_id=_NIL,
    template_id=_NIL,
    template_version=1,
    address_lines=["A Person", "1 Street", "SW1A 1AA"],
    body="Warm-up.",
    subject="Warm-up",
    postage="second",
    key_type="normal",
    created_at=datetime(2025, 1, 2, tzinfo=UTC),
)


def _start_worker(service_pid: int) -> None:
    # Ctrl-C reaches the whole process group: the service shuts its pool down itself, so the workers ignore it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A worker holds both ends of its task pipe, so it would never notice a service that was killed (SIGKILL, out of
    # memory) and would wait for work for ever: it leaves as soon as the service is no longer its parent (even if
    # the service died while this worker was still starting).
    threading.Thread(target=_exit_with_parent, args=(service_pid,), name="parent-watch", daemon=True).start()
    render_templated(WARM_UP)  # imports reportlab and fills its caches before the first real letter


def _exit_with_parent(parent: int, every: float = PARENT_CHECK_SECONDS) -> None:
    while os.getppid() == parent:
        time.sleep(every)
    os._exit(0)


def _ready() -> bool:
    return True


# --- the service side -----------------------------------------------------------------------------------------------
def chunks(items: Sequence[T], parts: int) -> list[Sequence[T]]:
    """``items`` cut, in order, into at most ``parts`` runs of nearly equal length."""
    parts = max(1, min(parts, len(items)))
    size, extra = divmod(len(items), parts)
    out, start = [], 0
    for i in range(parts):
        end = start + size + (1 if i < extra else 0)
        out.append(items[start:end])
        start = end
    return out


class RenderPool:
    def __init__(self, processes: int, *, start_method: str = "spawn") -> None:
        if processes < 1:
            raise ValueError("a render pool needs at least one process")
        self.processes = processes
        self._context = multiprocessing.get_context(start_method)
        self._executor: concurrent.futures.ProcessPoolExecutor | None = None
        self.replaced = 0  # how many times a broken pool was replaced (a worker died)

    def _new_executor(self) -> concurrent.futures.ProcessPoolExecutor:
        return concurrent.futures.ProcessPoolExecutor(
            max_workers=self.processes,
            mp_context=self._context,
            initializer=_start_worker,
            initargs=(os.getpid(),),
        )

    async def start(self) -> None:
        """Start every worker (each renders a warm-up letter before it takes any work) and wait for them to answer."""
        self._executor = self._new_executor()
        loop = asyncio.get_running_loop()
        # One task per worker: the executor starts a process for each task that finds no idle worker.
        await asyncio.gather(*(loop.run_in_executor(self._executor, _ready) for _ in range(self.processes)))
        log.info("delivery.letter.render_pool_started", processes=self.processes)

    async def stop(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)

    async def _call(self, fn: Callable[..., T], *args: object) -> T:
        executor = self._executor
        if executor is None:
            raise RenderWorkerLost("the render pool is not running")
        try:
            return await asyncio.get_running_loop().run_in_executor(executor, fn, *args)
        except BrokenProcessPool:
            self._replace(executor)
            raise RenderWorkerLost("a render worker process died") from None

    def _replace(self, broken: concurrent.futures.ProcessPoolExecutor) -> None:
        """Swap a broken executor for a new one, once however many letters saw it break."""
        if self._executor is not broken:
            return
        self._executor = self._new_executor()
        self.replaced += 1
        broken.shutdown(wait=False, cancel_futures=True)
        log.warning("delivery.letter.render_pool_replaced", processes=self.processes, times=self.replaced)

    async def render(self, requests: Sequence[LetterDeliveryRequestedV1]) -> list[Prepared | Exception]:
        """Each request's prepared letter, or the exception that letter failed with (in the given order)."""
        if not requests:
            return []
        parts = chunks(requests, self.processes)
        results = await asyncio.gather(
            *(self._call(render_chunk, part) for part in parts), return_exceptions=True
        )
        out: list[Prepared | Exception] = []
        for part, result in zip(parts, results, strict=True):
            if isinstance(result, BaseException):
                if not isinstance(result, Exception):
                    raise result
                out.extend(result for _ in part)
            else:
                out.extend(result)
        return out

    async def check(self, request: LetterDeliveryRequestedV1, pdf: bytes, *, infected: bool) -> Prepared:
        return await self._call(check_one, request, pdf, infected)


class InlineRenderer:
    """The same work in a thread of this process (one core at most, and it holds the GIL against the event loop)."""

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def render(self, requests: Sequence[LetterDeliveryRequestedV1]) -> list[Prepared | Exception]:
        return await asyncio.to_thread(render_chunk, list(requests))

    async def check(self, request: LetterDeliveryRequestedV1, pdf: bytes, *, infected: bool) -> Prepared:
        return await asyncio.to_thread(check_one, request, pdf, infected)
