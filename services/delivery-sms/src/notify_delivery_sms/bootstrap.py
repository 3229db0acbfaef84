"""The one wiring point of delivery-sms."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI
from notify_platform.consumer import Subscription
from notify_platform.db import Database
from notify_platform.outbox import OutboxRelay
from notify_platform.runtime import Runtime, create_app

from .entrypoints import receipts
from .handlers.send import ProviderPool, SmsSender, give_up
from .providers import build_provider
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


def build(role: str, settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = Runtime(SERVICE, settings)
    db = runtime.use_database(settings.database)
    runtime.use_broker()
    relay = runtime.use_outbox_relay()
    configs = settings.provider_configs()
    providers = {
        name: build_provider(
            name,
            base_url=str(c["base_url"]),
            username=str(c["username"]),
            password=str(c["password"]),
            receipt_username=str(c["receipt_username"]),
            receipt_password=str(c["receipt_password"]),
        )
        for name, c in configs.items()
    }
    pool = ProviderPool(providers, {name: int(c["weight"]) for name, c in configs.items()})
    if role in ("consumer", "all"):
        sender = SmsSender(db, pool, concurrency=settings.send_concurrency)

        async def on_requested(batch):  # type: ignore[no-untyped-def]
            if await sender.handle(batch):
                relay.wake()

        runtime.subscribe(
            Subscription(
                queue="delivery-sms.requested",
                patterns=QUEUES["delivery-sms.requested"],
                handler=on_requested,
                batch_size=100,
                batch_wait=0.02,
                concurrency=2,
                on_give_up=lambda envelope, reason: give_up(db, envelope, reason),
            )
        )

    async def close_providers() -> None:
        for provider in providers.values():
            await provider.aclose()

    runtime.on_stop(close_providers)
    app = create_app(
        runtime, [receipts.router] if role in ("api", "all") else [], title="Notify delivery-sms"
    )
    app.state.context = Context(db=db, pool=pool, relay=relay)
    return app
