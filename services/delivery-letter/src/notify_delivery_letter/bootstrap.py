"""The one wiring point of delivery-letter.

Roles: ``api`` (the gateway's internal PDF routes and the print provider's receipts), ``consumer`` (letter requests,
cancellations, and the print schedule: collecting batches and uploading them; safe with any number of replicas),
``all`` (both, for single-process runs) and ``migrate``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI
from notify_platform.consumer import Subscription
from notify_platform.db import Database
from notify_platform.outbox import OutboxRelay
from notify_platform.runtime import Runtime, create_app

from .adapters.print_provider import HttpPrintProvider
from .adapters.render_pool import InlineRenderer, RenderPool
from .adapters.scanner import build_scanner
from .domain.schedule import BatchSchedule
from .entrypoints import internal, receipts
from .handlers.batches import PrintBatcher
from .handlers.cancel import handle_cancellations
from .handlers.prepare import LetterPreparer, give_up
from .settings import Settings

SERVICE = "delivery-letter"
MIGRATIONS = Path(__file__).parent / "migrations"
ROLES = ("api", "consumer", "all", "migrate")
QUEUES = {
    "delivery-letter.requested": ("delivery.letter.requested.*",),
    # Every status change arrives here; the handler keeps letters that were cancelled (see handlers.cancel).
    "delivery-letter.cancelled": ("letter.cancelled.*",),
}


@dataclass
class Context:
    db: Database
    relay: OutboxRelay
    pdf_max_bytes: int
    provider_name: str
    receipt_username: str
    receipt_password: str


def schedule_from(settings: Settings) -> BatchSchedule:
    return BatchSchedule(
        cutoff=settings.letter_print_cutoff,
        batch_time=settings.letter_batch_time,
        interval_seconds=settings.letter_batch_interval_seconds,
        holidays=settings.print_holidays,
    )


def build(role: str, settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = Runtime(SERVICE, settings)
    db = runtime.use_database(settings.database)
    runtime.use_broker()
    relay = runtime.use_outbox_relay()
    if role in ("consumer", "all"):
        renderer = (
            RenderPool(settings.letter_render_processes)
            if settings.letter_render_processes
            else InlineRenderer()
        )
        runtime.on_start(renderer.start)
        runtime.on_stop(renderer.stop)
        preparer = LetterPreparer(
            db,
            build_scanner(settings.letter_virus_scanner),
            renderer=renderer,
            concurrency=settings.letter_render_concurrency,
        )

        async def on_cancelled(batch):  # type: ignore[no-untyped-def]
            await handle_cancellations(db, batch)

        runtime.subscribe(
            Subscription(
                queue="delivery-letter.requested",
                patterns=QUEUES["delivery-letter.requested"],
                handler=preparer.handle,
                # Two batches in flight: one rendering in the pool while the other is recorded. 50 letters a batch
                # keep the per-batch costs (ledger claim, one transaction, a chunk per render worker) small per
                # letter; a quiet queue still hands a letter over within batch_wait.
                batch_size=50,
                batch_wait=0.02,
                concurrency=2,
                on_give_up=lambda envelope, reason: give_up(db, envelope, reason),
            )
        )
        runtime.subscribe(
            Subscription(
                queue="delivery-letter.cancelled",
                patterns=QUEUES["delivery-letter.cancelled"],
                handler=on_cancelled,
                batch_size=200,
                batch_wait=0.05,
            )
        )
        provider = HttpPrintProvider(
            name=settings.print_provider_name,
            base_url=settings.print_provider_url,
            username=settings.print_provider_username,
            password=settings.print_provider_password,
            timeout=settings.print_upload_timeout_seconds,
        )
        batcher = PrintBatcher(
            db,
            provider,
            schedule_from(settings),
            max_letters=settings.letter_batch_max_letters,
            max_bytes=settings.letter_batch_max_bytes,
            retries=settings.print_upload_retries,
            retry_delay_seconds=settings.print_upload_retry_delay_seconds,
            lease_seconds=settings.print_upload_lease_seconds,
            on_reported=relay.wake,
        )
        runtime.background(batcher.run_collector)
        runtime.background(batcher.run_uploader)
        runtime.on_stop(provider.aclose)
    routers = [internal.router, receipts.router] if role in ("api", "all") else []
    app = create_app(runtime, routers, title="Notify delivery-letter")
    app.state.context = Context(
        db=db,
        relay=relay,
        pdf_max_bytes=settings.letter_pdf_max_bytes,
        provider_name=settings.print_provider_name,
        receipt_username=settings.print_receipt_username,
        receipt_password=settings.print_receipt_password,
    )
    return app
