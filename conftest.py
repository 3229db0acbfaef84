"""Fixtures shared by every test tier: real, per-run isolated PostgreSQL, RabbitMQ and Redis."""

from collections.abc import Iterator

import pytest
from notify_tools.testing import Infra, isolated_infra


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    with isolated_infra() as running:
        yield running
