"""PostgreSQL access for async services: a sync SQLAlchemy engine driven from a bounded thread pool.

psycopg2 is blocking, so every DB call runs in ``Database.run`` (a dedicated executor), never on the event loop.
A unit of work commits once at the end or rolls back; nothing is half-written.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, Engine, make_url

T = TypeVar("T")


class Database:
    """One engine per process, made at start-up, with a thread pool sized to the connection pool."""

    def __init__(self, url: str, *, pool_size: int = 10, name: str = "db") -> None:
        self.url = url
        # psycopg2: executemany UPDATEs and DELETEs go in pages of 100 per round trip (INSERTs are multi-row
        # already), so a batch of sends is closed in one or two round trips, not one per row.
        batch = (
            {"executemany_mode": "values_plus_batch"}
            if make_url(url).get_dialect().driver == "psycopg2"
            else {}
        )
        self.engine: Engine = create_engine(
            url,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_pre_ping=True,
            pool_recycle=1800,
            future=True,
            **batch,
        )
        self._executor = ThreadPoolExecutor(max_workers=pool_size, thread_name_prefix=f"{name}-")

    @contextlib.contextmanager
    def unit_of_work(self) -> Iterator[Connection]:
        """A transaction: committed when the block ends normally, rolled back on any exception."""
        with self.engine.begin() as conn:
            yield conn

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """Run blocking DB work off the event loop, in the caller's context (so log fields such as the
        service name and correlation id follow it into the thread)."""
        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()
        return await loop.run_in_executor(self._executor, context.run, fn, *args)

    async def transaction(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn(conn)`` inside one unit of work, off the event loop."""

        def work() -> T:
            with self.unit_of_work() as conn:
                return fn(conn)

        return await self.run(work)

    async def ping(self) -> None:
        def check() -> None:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))

        await asyncio.wait_for(self.run(check), timeout=3)

    def close(self) -> None:
        self.engine.dispose()
        self._executor.shutdown(wait=False, cancel_futures=True)


def ensure_database(url: str) -> bool:
    """Create the database named in ``url`` if it does not exist. Returns True if it was created."""
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": target.database}
            ).scalar()
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{target.database}"'))
                return True
            return False
    finally:
        admin.dispose()


def drop_database(url: str) -> None:
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
    finally:
        admin.dispose()
