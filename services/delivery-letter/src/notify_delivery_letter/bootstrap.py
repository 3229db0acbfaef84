"""The one wiring point of delivery-letter.

Its queue is declared by the ``migrate`` role, so letter requests wait durably there; the consumer that sends them
arrives with the delivery-channels issue.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from notify_platform.runtime import Runtime, create_app

from .settings import Settings

SERVICE = "delivery-letter"
MIGRATIONS = Path(__file__).parent / "migrations"
ROLES = ("api", "migrate")
QUEUES = {"delivery-letter.requested": ("delivery.letter.requested.*",)}


def build(role: str, settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = Runtime(SERVICE, settings)
    runtime.use_database(settings.database)
    runtime.use_broker()
    runtime.use_outbox_relay()
    return create_app(runtime, [], title="Notify delivery-letter")
