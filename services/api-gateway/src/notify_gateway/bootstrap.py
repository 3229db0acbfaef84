"""The one wiring point of the gateway."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx
from fastapi import FastAPI
from notify_contracts import Envelope
from notify_platform.consumer import Subscription
from notify_platform.daily_limits import DailyLimits
from notify_platform.runtime import Runtime, create_app

from .adapters.admin_cache import AdminCache
from .adapters.documents_client import HttpDocumentStore
from .adapters.internal_client import NotificationsClient
from .adapters.letters_client import LettersClient
from .entrypoints import (
    admin_letters,
    admin_proxy,
    admin_send,
    documents,
    errors,
    status,
    v2_notifications,
    v2_reads,
)
from .entrypoints.deps import Context
from .ratelimit import RateLimiter
from .settings import Settings

SERVICE = "api-gateway"
CHANGE_EVENTS = ("service.changed.*", "template.changed.*", "api_key.changed.*")
ROLES = ("api",)


def build(role: str = "api", settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = Runtime(SERVICE, settings)
    broker = runtime.use_broker()
    # Redis is optional for sending (limits fail open, the accepted window is best effort): not a readiness gate.
    redis = runtime.use_redis(required_for_readiness=False)
    notifications = NotificationsClient(
        settings.notifications_url, ttl=settings.cache_ttl_seconds, timeout=settings.internal_timeout_seconds
    )
    admin_http = httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=50))
    document_store = HttpDocumentStore(settings.notifications_url, timeout=settings.internal_timeout_seconds)
    letters = LettersClient(settings.delivery_letter_url, timeout=settings.internal_timeout_seconds)

    async def close_clients() -> None:
        await notifications.aclose()
        await admin_http.aclose()
        document_store.close()
        await letters.aclose()

    runtime.on_stop(close_clients)

    admin_cache = AdminCache(redis, prefix=settings.redis_prefix, ttl=settings.admin_cache_ttl_seconds)

    async def on_change(batch: Sequence[Envelope[Any]]) -> None:
        for envelope in batch:
            notifications.forget_service(envelope.payload.service_id)
        for service_id in {envelope.payload.service_id for envelope in batch}:
            await admin_cache.forget(service_id)

    # Revocations, template edits and setting changes reach every gateway replica at once (the 1 s cache TTL is
    # the fallback if an event is missed).
    runtime.subscribe(
        Subscription("api-gateway.cache", CHANGE_EVENTS, on_change, batch_size=100, broadcast=True)
    )
    app = create_app(
        runtime,
        [
            status.router,
            v2_reads.router,
            v2_notifications.router,
            documents.router,
            admin_send.router,
            admin_letters.router,
            admin_proxy.router,
        ],
        title="Notify API",
        description="GOV.UK Notify-compatible public v2 API and admin routes",
        version="0.1.0",
    )
    app.state.context = Context(
        settings=settings,
        broker=broker,
        notifications=notifications,
        redis=redis,
        limiter=RateLimiter(redis, prefix=settings.redis_prefix),
        daily_limits=DailyLimits(redis, prefix=settings.redis_prefix),
        document_store=document_store,
        letters=letters,
    )
    app.state.admin_http = admin_http
    app.state.admin_cache = admin_cache
    errors.install(app)
    return app
