"""Each test run gets its own databases, vhost and Redis prefix, and leaves nothing behind."""

from __future__ import annotations

import aio_pika
import pytest
import redis
from notify_platform.db import ensure_database
from notify_tools.testing import isolated_infra
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

pytestmark = pytest.mark.integration


def _databases(server_url: str, prefix: str) -> list[str]:
    engine = create_engine(make_url(server_url).set(database="postgres"))
    try:
        with engine.connect() as conn:
            return list(
                conn.execute(
                    text("SELECT datname FROM pg_database WHERE starts_with(datname, :p)"), {"p": prefix}
                ).scalars()
            )
    finally:
        engine.dispose()


async def test_a_run_is_isolated_and_cleaned_up() -> None:
    with isolated_infra() as first, isolated_infra() as second:
        assert first.amqp_url != second.amqp_url
        assert first.database_prefix != second.database_prefix
        assert first.redis_prefix != second.redis_prefix
        ensure_database(first.database_url("probe"))
        connection = await aio_pika.connect(first.amqp_url)  # the vhost exists and is usable
        await connection.close()
        client = redis.Redis.from_url(first.redis_url)
        client.set(f"{first.redis_prefix}probe", "1")
        assert _databases(first.postgres_url, first.database_prefix) == [f"{first.database_prefix}probe"]
    assert _databases(first.postgres_url, first.database_prefix) == []
    assert client.exists(f"{first.redis_prefix}probe") == 0
    client.close()
    with pytest.raises(aio_pika.exceptions.AMQPError):  # the run's vhost is gone
        await aio_pika.connect(first.amqp_url, timeout=5)
