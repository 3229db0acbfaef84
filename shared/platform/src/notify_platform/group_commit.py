"""Group commit: many callers, one transaction.

Each caller (an HTTP request taking a provider's receipt, say) submits one item and waits for its own result; the
items that arrive while a transaction is in flight are written together by the next one. The caller's answer
still comes only after the commit that holds its item, so nothing acknowledged is ever lost, but a thousand
receipts a second cost tens of transactions, not a thousand.

If a batch's transaction fails, its items are retried one at a time, so one bad item fails only its own caller;
when the database itself cannot be reached, the whole batch fails at once instead (no point trying each item).

The flushers run in the context of whichever caller started them: ``work`` must take everything it needs from the
items (a correlation id, say), never from context variables.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from .db import Database

T = TypeVar("T")
R = TypeVar("R")

BatchWork = Callable[[Connection, Sequence[T]], Sequence[R]]


class GroupCommit(Generic[T, R]):
    """``await submit(item)`` → ``work(conn, items)[i]`` for the item, after the transaction holding it commits.

    ``work`` gets the items in the order they were submitted and must return one result per item, in that order.
    At most ``concurrency`` transactions are in flight; each takes up to ``max_batch`` items."""

    def __init__(
        self, db: Database, work: BatchWork[T, R], *, max_batch: int = 500, concurrency: int = 2
    ) -> None:
        self.db = db
        self.work = work
        self.max_batch = max_batch
        self.concurrency = concurrency
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._flushers: set[asyncio.Task[None]] = set()

    async def submit(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if len(self._flushers) < self.concurrency:
            self._flushers.add(asyncio.create_task(self._drain(), name="group-commit"))
        return await future

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
                await self._flush(batch)
        finally:
            # At once, not in a done-callback: a submit in the same loop turn must see this flusher gone and start
            # another, or its item would wait for the next caller.
            task = asyncio.current_task()
            if task is not None:
                self._flushers.discard(task)

    async def _flush(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        items = [item for item, _ in batch]
        try:
            results = await self.db.transaction(lambda conn: list(self.work(conn, items)))
            if len(results) != len(items):
                raise RuntimeError(
                    f"group commit work returned {len(results)} results for {len(items)} items"
                )
        except asyncio.CancelledError:
            for _, future in batch:  # shutting down: no caller is left waiting for ever
                if not future.done():
                    future.cancel()
            raise
        except Exception as exc:
            if len(batch) > 1 and _one_item_may_be_at_fault(exc):
                for i, one in enumerate(batch):
                    try:
                        await self._flush([one])
                    except asyncio.CancelledError:
                        for _, future in batch[i + 1 :]:
                            if not future.done():
                                future.cancel()
                        raise
                return
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():  # the caller may have gone away (a cancelled request)
                future.set_result(result)


def _one_item_may_be_at_fault(exc: Exception) -> bool:
    """Whether retrying item by item can help: an error in the work or a statement refused for what it holds (data
    and constraint errors, SQLSTATE classes 22 and 23), not the database being unreachable or failing."""
    if isinstance(exc, DBAPIError):
        return (getattr(exc.orig, "pgcode", None) or "")[:2] in ("22", "23")
    return not isinstance(exc, OSError)
