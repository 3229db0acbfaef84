"""Fixtures of the jobs service's DB-backed tests: one scratch database of this run's PostgreSQL, migrated with the
service's own Alembic revisions, emptied before every test."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from notify_jobs.adapters.tables import metadata
from notify_jobs.bootstrap import MIGRATIONS
from notify_platform.db import Database, drop_database
from notify_platform.migrations import upgrade
from notify_tools.testing import Infra
from sqlalchemy import text


@pytest.fixture(scope="session")
def jobs_database_url(infra: Infra) -> Iterator[str]:
    url = infra.database_url(f"jobs_unit_{secrets.token_hex(3)}")
    upgrade(MIGRATIONS, url)
    try:
        yield url
    finally:
        drop_database(url)


@pytest.fixture(scope="session")
def _jobs_database(jobs_database_url: str) -> Iterator[Database]:
    database = Database(jobs_database_url, pool_size=4, name="jobs-test")
    try:
        yield database
    finally:
        database.close()


@pytest.fixture
def jobs_db(_jobs_database: Database) -> Database:
    """The migrated jobs database, with every table empty."""
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    with _jobs_database.unit_of_work() as conn:
        conn.execute(text(f"TRUNCATE {names} CASCADE"))
    return _jobs_database
