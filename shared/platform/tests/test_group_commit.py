"""Group commit: callers that submit together share one transaction, each gets its own answer, and one bad item
fails only its own caller."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from notify_platform.group_commit import GroupCommit


class FakeDatabase:
    """Runs the work as a transaction would (all or nothing) and counts the transactions."""

    def __init__(self) -> None:
        self.transactions: list[list[Any]] = []
        self.committed: list[Any] = []

    async def transaction(self, fn: Callable[[Any], Any]) -> Any:
        await asyncio.sleep(0.01)  # a round trip, during which more items arrive
        staged: list[Any] = []
        result = fn(staged)
        self.transactions.append(list(staged))
        self.committed.extend(staged)
        return result


def double(conn: list[Any], items: Sequence[int]) -> list[int]:
    for item in items:
        if item < 0:
            raise ValueError("negative")
        conn.append(item)
    return [item * 2 for item in items]


async def test_items_submitted_together_share_transactions_and_keep_their_own_results() -> None:
    db = FakeDatabase()
    group = GroupCommit(db, double, concurrency=1)  # type: ignore[arg-type]
    results = await asyncio.gather(*(group.submit(i) for i in range(100)))
    assert results == [i * 2 for i in range(100)]
    assert sorted(db.committed) == list(range(100))
    assert len(db.transactions) <= 3  # the first alone, then the rest together
    assert max(len(t) for t in db.transactions) >= 50


async def test_batches_are_capped() -> None:
    db = FakeDatabase()
    group = GroupCommit(db, double, max_batch=10, concurrency=1)  # type: ignore[arg-type]
    await asyncio.gather(*(group.submit(i) for i in range(45)))
    assert max(len(t) for t in db.transactions) == 10
    assert sorted(db.committed) == list(range(45))


async def test_a_bad_item_fails_only_its_own_caller() -> None:
    db = FakeDatabase()
    group = GroupCommit(db, double)  # type: ignore[arg-type]
    outcomes = await asyncio.gather(*(group.submit(i) for i in [1, 2, -3, 4, 5]), return_exceptions=True)
    assert outcomes[:2] == [2, 4] and outcomes[3:] == [8, 10]
    assert isinstance(outcomes[2], ValueError)
    assert sorted(db.committed) == [1, 2, 4, 5]


async def test_work_must_answer_every_item() -> None:
    db = FakeDatabase()
    group = GroupCommit(db, lambda conn, items: [])  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="0 results for 1 items"):
        await group.submit(1)


async def test_an_item_submitted_as_the_flushers_finish_is_still_written() -> None:
    """A caller that submits again the moment its first answer arrives runs before the finished flusher's
    done-callbacks: the flusher must already be gone from the set then, or no new one starts and the item waits
    for the next caller for ever."""
    db = FakeDatabase()
    group = GroupCommit(db, double, concurrency=1)  # type: ignore[arg-type]

    async def one_after_the_other() -> tuple[int, int]:
        first = await group.submit(1)
        return first, await group.submit(3)

    assert await asyncio.wait_for(one_after_the_other(), timeout=2) == (2, 6)


async def test_a_database_outage_fails_the_whole_batch_at_once() -> None:
    from sqlalchemy.exc import OperationalError

    class DownDatabase(FakeDatabase):
        async def transaction(self, fn: Callable[[Any], Any]) -> Any:
            self.transactions.append([])
            raise OperationalError("SELECT 1", {}, OSError("connection refused"))

    db = DownDatabase()
    group = GroupCommit(db, double, concurrency=1)  # type: ignore[arg-type]
    results = await asyncio.gather(*(group.submit(i) for i in range(5)), return_exceptions=True)
    assert all(isinstance(r, OperationalError) for r in results)
    assert len(db.transactions) == 1  # not one more attempt per item
