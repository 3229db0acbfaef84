"""The one wiring point of the notifications service: which connections, consumers and routes a role gets."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from notify_contracts import Envelope
from notify_platform.consumer import BatchHandler, Subscription
from notify_platform.db import Database
from notify_platform.runtime import Runtime, create_app
from sqlalchemy.engine import Connection

from .adapters.callback_http import CallbackPoster, parse_networks
from .adapters.crypto import SecretBox
from .entrypoints import (
    admin_api_keys,
    admin_callbacks,
    admin_inbound_numbers,
    admin_inbound_sms,
    admin_notification_list,
    admin_notifications,
    admin_reply_to_check,
    admin_senders,
    admin_service_members,
    admin_service_records,
    admin_services,
    admin_template_folders,
    admin_templates,
    admin_user_auth,
    admin_user_codes,
    admin_users,
    errors,
    internal,
    internal_documents,
    internal_reads,
)
from .entrypoints.deps import Context
from .handlers.callbacks import CallbackDispatcher, queue_status_callbacks
from .handlers.complaints import store_complaints
from .handlers.inbound import store_received
from .handlers.ingest import ingest
from .handlers.returned_letters import apply_returns
from .handlers.statuses import apply_reports
from .handlers.sweep import SWEEP_BATCH, time_out_stuck
from .settings import Settings

SERVICE = "notifications"
MIGRATIONS = Path(__file__).parent / "migrations"
ROLES = ("api", "consumer", "all", "migrate")
QUEUES = {
    "notifications.requested": ("notification.requested.*",),
    "notifications.status-reported": ("notification.status_reported.*",),
    "notifications.callbacks": ("notification.status_changed.*",),
    "notifications.complaints": ("email.complaint_received.*",),
    "notifications.returned-letters": ("letter.returned.*",),
    "notifications.inbound-sms": ("sms.received.*",),
}


def subscriptions(
    runtime: Runtime, settings: Settings, dispatcher: CallbackDispatcher | None = None
) -> list[Subscription]:
    db = runtime.db
    assert db is not None

    # Each returns what it wrote; Runtime.subscribe wakes the outbox relay when that is anything.
    async def on_requested(batch: Sequence[Envelope[Any]]) -> Any:
        return await db.transaction(lambda conn: ingest(conn, batch, email_domain=settings.email_domain))

    async def on_status(batch: Sequence[Envelope[Any]]) -> Any:
        return await db.transaction(lambda conn: apply_reports(conn, batch))

    def queueing_callbacks(store: Callable[[Connection, Sequence[Envelope[Any]]], Any]) -> BatchHandler:
        """A handler storing its batch with ``store`` in one transaction, waking the callback dispatcher when that
        queued or wrote anything (and returning it, so the outbox relay is woken too)."""

        async def handle(batch: Sequence[Envelope[Any]]) -> Any:
            written = await db.transaction(lambda conn: store(conn, batch))
            if written and dispatcher is not None:
                dispatcher.wake()
            return written

        return handle

    def sub(queue: str, handler: BatchHandler, batch_size: int = 100, concurrency: int = 1) -> Subscription:
        return Subscription(
            queue=queue,
            patterns=QUEUES[queue],
            handler=handler,
            batch_size=batch_size,
            batch_wait=0.02,
            concurrency=concurrency,
        )

    return [
        sub("notifications.requested", on_requested, batch_size=200, concurrency=2),
        sub("notifications.status-reported", on_status, batch_size=settings.status_batch_size),
        sub("notifications.callbacks", queueing_callbacks(queue_status_callbacks), batch_size=200),
        sub("notifications.complaints", queueing_callbacks(store_complaints)),
        sub("notifications.returned-letters", queueing_callbacks(apply_returns)),
        sub("notifications.inbound-sms", queueing_callbacks(store_received)),
    ]


async def sweep_forever(runtime: Runtime, settings: Settings) -> None:
    """Time out stuck texts and emails every interval (each pass bounded; repeated while it finds a full batch)."""
    db = runtime.db
    assert db is not None
    timeout = timedelta(seconds=settings.sending_timeout_seconds)
    while True:
        while await db.transaction(lambda conn: time_out_stuck(conn, timeout=timeout)) >= SWEEP_BATCH:
            pass
        if runtime.relay is not None:
            runtime.relay.wake()
        await asyncio.sleep(settings.sending_sweep_interval_seconds)


def admin_routers() -> list[APIRouter]:
    """The admin API, in matching order: fixed paths (``find-services-by-name``, ``notifications/monthly``) come
    before the routes that take an id in the same place."""
    return [
        admin_user_auth.router,  # before admin_users: /user/find-users-by-email is not a user id
        admin_users.router,
        admin_user_codes.router,
        admin_services.router,
        admin_service_records.router,
        admin_service_members.router,
        admin_api_keys.router,
        admin_callbacks.router,
        admin_template_folders.router,
        admin_templates.router,
        admin_reply_to_check.router,
        admin_senders.router,
        admin_inbound_numbers.router,
        admin_inbound_sms.router,
        admin_notification_list.router,
        admin_notifications.router,
    ]


def callback_dispatcher(db: Database, box: SecretBox, settings: Settings) -> CallbackDispatcher:
    poster = CallbackPoster(
        timeout=settings.callback_timeout_seconds,
        allowed_networks=parse_networks(settings.callback_networks),
        allow_http=settings.callback_http_allowed,
    )
    return CallbackDispatcher(
        db,
        box,
        poster,
        retry_delays=settings.callback_retry_delay_seconds,
        max_in_flight=settings.callback_max_in_flight,
        per_service=settings.callback_max_in_flight_per_service,
        poll_interval=settings.callback_poll_interval_seconds,
    )


def build(role: str, settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = Runtime(SERVICE, settings)
    db = runtime.use_database(settings.database)
    runtime.use_broker()
    relay = runtime.use_outbox_relay()
    box = SecretBox(settings.secret_keys)
    if role in ("consumer", "all"):
        dispatcher = callback_dispatcher(db, box, settings)
        for sub in subscriptions(runtime, settings, dispatcher):
            runtime.subscribe(sub)
        runtime.background(dispatcher.run_forever)
        runtime.on_stop(dispatcher.poster.close)
        runtime.background(lambda: sweep_forever(runtime, settings))
    routers = []
    if role in ("api", "all"):
        routers = [
            *admin_routers(),
            internal.router,
            internal_reads.router,
            internal_documents.router,
        ]
    app = create_app(runtime, routers, title="Notify notifications (internal)")
    app.state.context = Context(settings=settings, db=db, box=box, relay=relay)
    errors.install(app)
    return app
