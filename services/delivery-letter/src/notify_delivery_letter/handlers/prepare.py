"""delivery.letter.requested → the letter's PDF made (templated) or checked (precompiled), stored, reported.

Exactly once per notification: a batch first *claims* its notifications in the shared send ledger (committed before
any work). A redelivered request whose letter was prepared (ledger ``sent``) or failed (``failed``) changes nothing;
one left ``claimed`` by a crash is simply prepared again (rendering is deterministic and storing is idempotent).

Templated: rendered by the content engine, dated on its creation day in London; more than 10 pages ends
``validation-failed``; otherwise the PDF is stored and the letter waits for the next print batch, reported
``created`` with billable units = sheets. Precompiled: the PDF the gateway uploaded is virus scanned
(``virus-scan-failed``), checked against the letter spec (``validation-failed``, the reason as detail), then reported
``created`` with the address read from it, its postage and its sheets, and goes on like a templated letter.

Test keys never reach the printer: the letter is reported ``sending`` then ``delivered`` (a faked print receipt).
Addresses and letter content are never logged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from notify_contracts import Envelope, LetterDeliveryRequestedV1
from notify_platform.db import Database
from notify_platform.logging import get_logger
from notify_platform.send_ledger import SendLedger
from sqlalchemy.engine import Connection

from ..adapters import store
from ..adapters.render_pool import InlineRenderer, Renderer
from ..adapters.reports import PRODUCER, Reports
from ..adapters.scanner import VirusScanner
from ..adapters.tables import outbox as outbox_table
from ..adapters.tables import sends
from ..domain.letters import Prepared

log = get_logger(__name__)
RESEARCH = "research"


class PdfNotUploaded(Exception):
    """A precompiled letter whose PDF is not stored: retried, then ``technical-failure``."""


class LetterPreparer:
    """``renderer``: where PDFs are made and checked (``adapters.render_pool``: a process pool in the service, a
    thread by default); ``concurrency``: precompiled letters read, scanned and checked at once (each holds its
    PDF in memory)."""

    def __init__(
        self,
        db: Database,
        scanner: VirusScanner,
        *,
        renderer: Renderer | None = None,
        concurrency: int = 4,
    ) -> None:
        self.db = db
        self.ledger = SendLedger(db, sends, outbox_table, producer=PRODUCER)
        self.scanner = scanner
        self.renderer: Renderer = renderer or InlineRenderer()
        self._limit = asyncio.Semaphore(concurrency)

    async def handle(self, batch: Sequence[Envelope[Any]]) -> int:
        """Prepare a batch; returns how many were recorded. Raises (so the consumer retries) after recording the
        others if one could not be prepared for a passing reason (scanner down, PDF not there yet, a render
        worker lost)."""
        unique: dict[Any, Envelope[Any]] = {}
        for env in batch:
            unique.setdefault(env.payload.notification_id, env)
        before = await self.db.transaction(lambda conn: self.ledger.claim(conn, list(unique.values())))
        todo = [env for nid, env in unique.items() if before.get(nid) in (None, "claimed")]
        if not todo:
            return 0
        templated = [env for env in todo if not env.payload.precompiled]
        precompiled = [env for env in todo if env.payload.precompiled]
        rendered, checked = await asyncio.gather(
            self.renderer.render([env.payload for env in templated]),
            asyncio.gather(*(self._precompiled(env) for env in precompiled), return_exceptions=True),
        )
        results: list[Prepared | BaseException] = [*rendered, *checked]
        envelopes = [*templated, *precompiled]
        done = [(env, r) for env, r in zip(envelopes, results, strict=True) if isinstance(r, Prepared)]
        if done:
            await self.db.transaction(lambda conn: record(conn, done))
        for env, prepared in done:
            log.info(
                "delivery.letter.prepared",
                notification_id=str(env.payload.notification_id),
                precompiled=env.payload.precompiled,
                outcome=prepared.failure or "ready",
                pages=prepared.page_count,
                correlation_id=env.correlation_id,
            )
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            raise failures[0]
        return len(done)

    async def _precompiled(self, env: Envelope[Any]) -> Prepared:
        request: LetterDeliveryRequestedV1 = env.payload
        nid = str(request.notification_id)
        async with self._limit:
            pdf = await self.db.transaction(
                lambda conn: store.uploaded_pdf(conn, request.notification_id, request.service_id)
            )
            if pdf is None:
                raise PdfNotUploaded(f"no uploaded PDF for notification {nid}")
            verdict = await self.scanner.scan(pdf)
            if verdict.infected:
                log.warning(
                    "delivery.letter.virus_found",
                    notification_id=nid,
                    scanner=self.scanner.name,
                    signature=verdict.signature,
                )
            return await self.renderer.check(request, pdf, infected=verdict.infected)


def record(conn: Connection, done: Sequence[tuple[Envelope[Any], Prepared]]) -> None:
    """Store what the batch came to, close its ledger rows, and queue its status reports (one transaction, a
    statement per table rather than per letter)."""
    reports = Reports()
    store.close_sends(
        conn, [(env.payload.notification_id, "failed" if p.failure else "sent") for env, p in done]
    )
    store.quarantine(
        conn, [env.payload.notification_id for env, p in done if p.failure == "virus-scan-failed"]
    )
    ready = [(env, p) for env, p in done if p.failure is None]
    store.put_pdfs(
        conn,
        [
            (env.payload.notification_id, env.payload.service_id, p.pdf)
            for env, p in ready
            if p.pdf is not None
        ],
    )
    queued = store.queue_letters(
        conn,
        [
            {
                "notification_id": env.payload.notification_id,
                "service_id": env.payload.service_id,
                "state": RESEARCH if env.payload.key_type == "test" else "ready",
                "correlation_id": env.correlation_id,
                "created_at": env.payload.created_at,
                "postage": p.postage,
                "page_count": p.page_count,
                "sheets": p.sheets,
                "pdf_size": p.pdf_size,
            }
            for env, p in ready
        ],
    )
    for env, prepared in done:
        request: LetterDeliveryRequestedV1 = env.payload
        nid = request.notification_id
        cause = {"correlation_id": env.correlation_id, "causation_id": str(env.event_id)}
        if prepared.failure is not None:
            reports.add(nid, prepared.failure, detail=prepared.detail, billable_units=0, **cause)
            continue
        reports.add(
            nid,
            "created",
            billable_units=prepared.sheets,
            detail=f"{prepared.page_count} pages",
            recipient=prepared.recipient,
            postage=prepared.report_postage,
            **cause,
        )
        if request.key_type == "test" and nid in queued:
            sent_at = datetime.now(UTC)
            research = {"provider": RESEARCH, "provider_reference": f"{RESEARCH}-{nid}", "sent_at": sent_at}
            reports.add(nid, "sending", **research, **cause)
            reports.add(nid, "delivered", **research, **cause)
    reports.write(conn)


async def give_up(db: Database, envelope: Envelope[Any], reason: str) -> None:
    """Every retry failed: the letter ends ``technical-failure`` unless it was prepared after all."""
    await SendLedger(db, sends, outbox_table, producer=PRODUCER).give_up(envelope, reason)
    log.error("delivery.letter.gave_up", notification_id=str(envelope.payload.notification_id))
