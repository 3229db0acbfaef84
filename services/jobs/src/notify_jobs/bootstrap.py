"""The one wiring point of the jobs service: which connections, consumers, loops and routes a role gets.

Roles: ``api`` (uploads and the admin job routes), ``consumer`` (the scheduler, job processing, the created-check and
the status consumer), ``all`` (both, for one-process development) and ``migrate``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from notify_contracts import Envelope
from notify_platform import admin_errors
from notify_platform.consumer import Subscription
from notify_platform.daily_limits import DailyLimits
from notify_platform.runtime import Runtime, create_app

from .adapters.notifications_client import NotificationsClient
from .entrypoints import jobs, uploads
from .entrypoints.deps import Context
from .handlers.processing import JobWorker
from .handlers.statuses import record_statuses
from .settings import Settings

SERVICE = "jobs"
MIGRATIONS = Path(__file__).parent / "migrations"
ROLES = ("api", "consumer", "all", "migrate")
QUEUES: dict[str, tuple[str, ...]] = {
    "jobs.status-changed": ("notification.status_changed.*",),
}


def build(role: str, settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = Runtime(SERVICE, settings)
    db = runtime.use_database(settings.database)
    broker = runtime.use_broker()
    notifications = NotificationsClient(settings.notifications_url, timeout=settings.internal_http_timeout)
    runtime.on_stop(notifications.aclose)
    if role in ("consumer", "all"):
        redis = runtime.use_redis(required_for_readiness=False)
        worker = JobWorker(
            db=db,
            broker=broker,
            notifications=notifications,
            daily_limits=DailyLimits(redis, prefix=settings.redis_prefix),
            settings=settings,
        )

        async def on_status(batch: Sequence[Envelope[Any]]) -> None:
            await db.transaction(lambda conn: record_statuses(conn, batch))

        runtime.subscribe(
            Subscription(
                queue="jobs.status-changed",
                patterns=QUEUES["jobs.status-changed"],
                handler=on_status,
                batch_size=500,
                batch_wait=0.05,
            )
        )
        runtime.background(worker.run_forever)
        runtime.background(worker.check_created_forever)
    routers = [uploads.router, jobs.router] if role in ("api", "all") else []
    app = create_app(runtime, routers, title="Notify jobs (internal)")
    app.state.context = Context(settings=settings, db=db, notifications=notifications)
    admin_errors.install(app)
    return app
