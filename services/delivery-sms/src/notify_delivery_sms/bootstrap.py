"""The one wiring point of delivery-sms."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI
from notify_platform.consumer import Subscription
from notify_platform.db import Database
from notify_platform.group_commit import GroupCommit
from notify_platform.outbox import OutboxRelay
from notify_platform.runtime import Runtime, create_app

from .domain.priorities import ProviderPriority
from .entrypoints import inbound, receipts
from .entrypoints import providers as provider_routes
from .handlers.failover import Failover, every
from .handlers.send import ProviderPool, SmsSender, give_up
from .providers import Receipt, build_provider
from .settings import Settings

SERVICE = "delivery-sms"
MIGRATIONS = Path(__file__).parent / "migrations"
ROLES = ("api", "consumer", "all", "migrate")
QUEUES = {"delivery-sms.requested": ("delivery.sms.requested.*",)}


@dataclass
class Context:
    db: Database
    pool: ProviderPool
    relay: OutboxRelay
    failover: Failover
    receipts: GroupCommit[tuple[str, Receipt], str | None]


def build(role: str, settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = Runtime(SERVICE, settings)
    db = runtime.use_database(settings.database)
    runtime.use_broker()
    relay = runtime.use_outbox_relay()
    providers = {name: build_provider(name, **config) for name, config in settings.provider_configs().items()}
    international = settings.supports_international()
    # Until the first read of the database, texts are shared by the resting points.
    pool = ProviderPool(
        providers,
        [
            ProviderPriority(name, priority, supports_international=international[name])
            for name, priority in settings.resting_priorities().items()
        ],
    )
    failover = Failover(
        db,
        pool,
        resting=settings.resting_priorities(),
        international=international,
        rules=settings.failover_rules(),
    )
    if role in ("consumer", "all"):
        sender = SmsSender(
            db, pool, concurrency=settings.send_concurrency, on_provider_error=failover.record_failure
        )

        runtime.subscribe(
            Subscription(
                queue="delivery-sms.requested",
                patterns=QUEUES["delivery-sms.requested"],
                handler=sender.handle,
                batch_size=100,
                batch_wait=0.02,
                concurrency=2,
                retry_delays=settings.retry_schedule,
                on_give_up=lambda envelope, reason: give_up(db, envelope, reason),
            )
        )
        # Failover runs where texts are sent: every consumer replica, made safe by row and advisory locks.
        runtime.background(lambda: failover.keep_fresh(settings.sms_priority_refresh_seconds))
        runtime.background(
            lambda: every(settings.sms_slow_check_interval_seconds, failover.check_slow, name="slow")
        )
        runtime.background(lambda: every(settings.sms_drift_interval_seconds, failover.drift, name="drift"))
        runtime.on_stop(failover.close)

    async def close_providers() -> None:
        for provider in providers.values():
            await provider.aclose()

    runtime.on_stop(close_providers)
    routers = [receipts.router, inbound.router, provider_routes.router] if role in ("api", "all") else []
    app = create_app(runtime, routers, title="Notify delivery-sms")
    app.state.context = Context(
        db=db,
        pool=pool,
        relay=relay,
        failover=failover,
        receipts=GroupCommit(db, receipts.report_receipts),
    )
    return app
