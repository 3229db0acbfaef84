"""The admin routes in-process, on a scratch database of this run's PostgreSQL (no broker: the outbox rows they
write are inspected directly)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from notify_notifications.adapters.crypto import SecretBox
from notify_notifications.adapters.tables import metadata
from notify_notifications.bootstrap import admin_routers
from notify_notifications.entrypoints import errors
from notify_notifications.entrypoints.deps import Context
from notify_notifications.settings import Settings
from notify_platform.db import Database
from notify_tools.testing import Infra, scratch_database


@pytest.fixture(scope="module")
def admin_db(infra: Infra) -> Iterator[Database]:
    with scratch_database(infra, metadata, "admin") as database:
        yield database


@pytest.fixture(scope="module")
def admin(admin_db: Database) -> Iterator[TestClient]:
    """A client of the admin routes exactly as the gateway forwards to them."""
    app = FastAPI()
    for router in admin_routers():
        app.include_router(router)
    # Callback URLs as production takes them (https only); development's plain http is tested on its own.
    settings = Settings(
        environment="test", notify_secret_keys="a-test-secret-key-of-16+", callback_allow_http=False
    )
    app.state.context = Context(
        settings=settings, db=admin_db, box=SecretBox(settings.secret_keys), relay=None
    )
    errors.install(app)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
