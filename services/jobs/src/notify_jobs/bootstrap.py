"""The one wiring point of the jobs service (batch sends arrive with the jobs issue; this is its runtime)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from notify_platform.runtime import Runtime, create_app

from .settings import Settings

SERVICE = "jobs"
MIGRATIONS = Path(__file__).parent / "migrations"
ROLES = ("api", "migrate")
QUEUES: dict[str, tuple[str, ...]] = {}


def build(role: str, settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = Runtime(SERVICE, settings)
    runtime.use_database(settings.database)
    runtime.use_broker()
    runtime.use_outbox_relay()
    return create_app(runtime, [], title="Notify jobs (internal)")
