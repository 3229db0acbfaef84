"""The one wiring point of delivery-email."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from notify_platform.consumer import Subscription
from notify_platform.db import Database
from notify_platform.group_commit import GroupCommit
from notify_platform.outbox import OutboxRelay
from notify_platform.runtime import Runtime, create_app

from .adapters.smtp import SmtpMailer
from .entrypoints import receipts
from .handlers.send import EmailSender, give_up
from .settings import Settings

SERVICE = "delivery-email"
MIGRATIONS = Path(__file__).parent / "migrations"
ROLES = ("api", "consumer", "all", "migrate")
QUEUES = {"delivery-email.requested": ("delivery.email.requested.*",)}


@dataclass
class Context:
    db: Database
    relay: OutboxRelay
    receipt_token: str
    receipts: GroupCommit[receipts.EmailReceipt, Any]


def build(role: str, settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = Runtime(SERVICE, settings)
    db = runtime.use_database(settings.database)
    runtime.use_broker()
    relay = runtime.use_outbox_relay()
    if role in ("consumer", "all"):
        mailer = SmtpMailer(
            settings.smtp_host,
            settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
            timeout=settings.smtp_timeout_seconds,
            pool_size=settings.smtp_pool_size,
            idle_seconds=settings.smtp_pool_idle_seconds,
            max_messages=settings.smtp_pool_max_messages,
        )
        runtime.on_stop(mailer.aclose)
        sender = EmailSender(db, mailer, concurrency=settings.send_concurrency)

        runtime.subscribe(
            Subscription(
                queue="delivery-email.requested",
                patterns=QUEUES["delivery-email.requested"],
                handler=sender.handle,
                batch_size=100,
                batch_wait=0.02,
                concurrency=2,
                retry_delays=settings.retry_schedule,
                on_give_up=lambda envelope, reason: give_up(db, envelope, reason),
            )
        )
    app = create_app(
        runtime, [receipts.router] if role in ("api", "all") else [], title="Notify delivery-email"
    )
    app.state.context = Context(
        db=db,
        relay=relay,
        receipt_token=settings.email_receipt_token,
        receipts=GroupCommit(db, receipts.report_receipts),
    )
    return app
