"""Test infrastructure: real PostgreSQL, RabbitMQ and Redis, isolated per test run.

Services come from ``TEST_DATABASE_URL``, ``TEST_AMQP_URL`` and ``TEST_REDIS_URL`` (localhost defaults). With none
of them set and a Docker engine answering, they are started with testcontainers instead. Each run gets its own
database-name prefix, RabbitMQ vhost and Redis key prefix, and removes them afterwards, so runs never collide.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlparse, urlunparse

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

DEFAULT_DATABASE_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


@dataclass(frozen=True)
class Infra:
    run_id: str
    postgres_url: str  # server URL (database "postgres")
    amqp_url: str  # includes this run's vhost
    redis_url: str
    redis_prefix: str
    database_prefix: str

    def env(self) -> dict[str, str]:
        return {
            "POSTGRES_URL": self.postgres_url,
            "DATABASE_PREFIX": self.database_prefix,
            "AMQP_URL": self.amqp_url,
            "REDIS_URL": self.redis_url,
            "REDIS_PREFIX": self.redis_prefix,
        }

    def database_url(self, name: str) -> str:
        return (
            make_url(self.postgres_url).set(database=f"{self.database_prefix}{name}").render_as_string(False)
        )


def _docker_answers() -> bool:
    if not shutil.which("docker"):
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@contextlib.contextmanager
def _containers() -> Iterator[tuple[str, str, str]]:
    from testcontainers.postgres import PostgresContainer
    from testcontainers.rabbitmq import RabbitMqContainer
    from testcontainers.redis import RedisContainer

    with (
        PostgresContainer("postgres:16", username="postgres", password="postgres", dbname="postgres") as pg,
        RabbitMqContainer("rabbitmq:3.13-management") as mq,
        RedisContainer("redis:7") as rd,
    ):
        amqp = f"amqp://guest:guest@{mq.get_container_host_ip()}:{mq.get_exposed_port(5672)}/"
        redis_url = f"redis://{rd.get_container_host_ip()}:{rd.get_exposed_port(6379)}/0"
        yield pg.get_connection_url(), amqp, redis_url


def _with_vhost(amqp_url: str, vhost: str) -> str:
    parts = urlparse(amqp_url)
    return urlunparse(parts._replace(path="/" + quote(vhost, safe="")))


def _vhost_admin(amqp_url: str, vhost: str, create: bool) -> None:
    """Create or delete a vhost: through the management API if it answers, else with rabbitmqctl."""
    parts = urlparse(amqp_url)
    user, password = unquote(parts.username or "guest"), unquote(parts.password or "guest")
    management = os.environ.get("TEST_RABBITMQ_MANAGEMENT_URL", f"http://{parts.hostname}:15672")
    try:
        with httpx.Client(base_url=management, auth=(user, password), timeout=5) as client:
            path = f"/api/vhosts/{quote(vhost, safe='')}"
            if create:
                client.put(path).raise_for_status()
                client.put(
                    f"/api/permissions/{quote(vhost, safe='')}/{quote(user, safe='')}",
                    json={"configure": ".*", "write": ".*", "read": ".*"},
                ).raise_for_status()
            else:
                client.delete(path)
            return
    except httpx.HTTPError:
        pass
    ctl = shutil.which("rabbitmqctl")
    if ctl is None:
        raise RuntimeError(
            "cannot create a RabbitMQ vhost for this test run: enable the management plugin "
            "(rabbitmq-plugins enable rabbitmq_management) or put rabbitmqctl on PATH"
        )
    if create:
        subprocess.run([ctl, "-q", "add_vhost", vhost], check=True, capture_output=True, timeout=60)
        subprocess.run(
            [ctl, "-q", "set_permissions", "-p", vhost, user, ".*", ".*", ".*"],
            check=True,
            capture_output=True,
            timeout=60,
        )
    else:
        subprocess.run([ctl, "-q", "delete_vhost", vhost], capture_output=True, timeout=60)


def _drop_databases(postgres_url: str, prefix: str) -> None:
    engine = create_engine(make_url(postgres_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            names = conn.execute(
                text("SELECT datname FROM pg_database WHERE datname LIKE :p"),
                {"p": prefix.replace("_", r"\_") + "%"},
            ).scalars()
            for name in list(names):
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()


def _clear_redis(redis_url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
    except redis.RedisError:
        pass
    finally:
        client.close()


@contextlib.contextmanager
def isolated_infra() -> Iterator[Infra]:
    """Real services for one test run, isolated and cleaned up afterwards."""
    configured = any(os.environ.get(v) for v in ("TEST_DATABASE_URL", "TEST_AMQP_URL", "TEST_REDIS_URL"))
    with contextlib.ExitStack() as stack:
        if not configured and os.environ.get("TEST_USE_CONTAINERS", "auto") != "never" and _docker_answers():
            database, amqp, redis_url = stack.enter_context(_containers())
        else:
            database = os.environ.get("TEST_DATABASE_URL", DEFAULT_DATABASE_URL)
            amqp = os.environ.get("TEST_AMQP_URL", DEFAULT_AMQP_URL)
            redis_url = os.environ.get("TEST_REDIS_URL", DEFAULT_REDIS_URL)
        run_id = secrets.token_hex(4)
        vhost = f"notify-test-{run_id}"
        infra = Infra(
            run_id=run_id,
            postgres_url=make_url(database)
            .set(drivername="postgresql+psycopg2", database="postgres")
            .render_as_string(False),
            amqp_url=_with_vhost(amqp, vhost),
            redis_url=redis_url,
            redis_prefix=f"notify-test-{run_id}:",
            database_prefix=f"notify_t{run_id}_",
        )
        _vhost_admin(amqp, vhost, create=True)
        try:
            yield infra
        finally:
            _vhost_admin(amqp, vhost, create=False)
            _drop_databases(infra.postgres_url, infra.database_prefix)
            _clear_redis(redis_url, infra.redis_prefix)


def migration_drift(migrations: Any, metadata: Any, infra: Infra, name: str) -> list[Any]:
    """Upgrade a fresh database with a service's Alembic revisions and return every difference from its models
    (empty when the migrations create exactly what the tables declare)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from notify_platform.db import drop_database
    from notify_platform.migrations import upgrade

    url = infra.database_url(f"drift_{name}_{secrets.token_hex(3)}")
    upgrade(migrations, url)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()
        drop_database(url)


@contextlib.contextmanager
def scratch_database(infra: Infra, metadata: Any, name: str = "scratch") -> Iterator[Any]:
    """A new database with ``metadata``'s tables, as a ``notify_platform.db.Database``; dropped afterwards."""
    from notify_platform.db import Database, drop_database, ensure_database

    url = infra.database_url(f"{name}_{secrets.token_hex(3)}")
    ensure_database(url)
    database = Database(url, pool_size=2)
    try:
        metadata.create_all(database.engine)
        yield database
    finally:
        database.close()
        drop_database(url)
