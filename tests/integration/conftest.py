"""The running stack (every service and simulator as real processes) against this run's isolated infra."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from notify_tools.admin_client import AdminClient
from notify_tools.callback_receiver import CallbackReceiver
from notify_tools.demo import create_demo
from notify_tools.launcher import RunningStack, launch
from notify_tools.testing import Infra
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine, make_url

pytestmark = pytest.mark.integration


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "run_last: run after every other test of the session (it reads what the whole run left behind)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``run_last`` go to the end of the session, after every other test in every directory."""
    last = [item for item in items if item.get_closest_marker("run_last")]
    if last:
        items[:] = [item for item in items if not item.get_closest_marker("run_last")] + last


@pytest.fixture(scope="session")
def stack(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    log_dir: Path = tmp_path_factory.mktemp("stack-logs")
    # A long gateway cache TTL, so that revocations and template changes taking effect at once can only be the
    # change events invalidating the cache (production keeps 1 s as the fallback). Short delivery retries, so
    # that running out of them takes seconds, not Notify's four hours; callbacks likewise (Notify: 5 × 300 s).
    running = launch(
        infra.env(),
        log_dir,
        extra_env={
            "CACHE_TTL_SECONDS": "30",
            "DELIVERY_RETRY_DELAYS": "1,1,2",
            "CALLBACK_RETRY_DELAYS": "1,1,1,1,1",
        },
    )
    try:
        yield running
    finally:
        running.stop_all()


@pytest.fixture(scope="session")
def demo(stack: RunningStack) -> dict[str, Any]:
    """A live service with a key of each type and one template per channel, made through the admin API."""
    return create_demo(stack.base_url, stack.admin_secret)


@pytest.fixture(scope="module")
def admin(stack: RunningStack) -> Iterator[AdminClient]:
    """An admin API client (a fresh admin JWT for every request), through the gateway."""
    client = AdminClient(stack.base_url, stack.admin_secret)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="module")
def db(stack: RunningStack) -> Iterator[Engine]:
    """An engine on the notifications database of this run, for tests that set up or inspect rows directly."""
    url = make_url(stack.env["POSTGRES_URL"]).set(database=stack.env["DATABASE_PREFIX"] + "notifications")
    engine = create_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def callback_receiver() -> Iterator[CallbackReceiver]:
    """A real HTTP endpoint on 127.0.0.1 (the test stack, like development, allows loopback and plain http)."""
    with CallbackReceiver() as receiver:
        yield receiver
