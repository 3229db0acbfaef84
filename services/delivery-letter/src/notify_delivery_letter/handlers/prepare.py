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
from sqlalchemy import update
from sqlalchemy.engine import Connection

from ..adapters import store
from ..adapters.reports import PRODUCER, Reports
from ..adapters.scanner import VirusScanner
from ..adapters.tables import outbox as outbox_table
from ..adapters.tables import sends
from ..domain.letters import Prepared, check_precompiled, render_templated

log = get_logger(__name__)
RESEARCH = "research"


class PdfNotUploaded(Exception):
    """A precompiled letter whose PDF is not stored: retried, then ``technical-failure``."""


class LetterPreparer:
    def __init__(self, db: Database, scanner: VirusScanner, *, concurrency: int = 4) -> None:
        self.db = db
        self.ledger = SendLedger(db, sends, outbox_table, producer=PRODUCER)
        self.scanner = scanner
        self._limit = asyncio.Semaphore(concurrency)

    async def handle(self, batch: Sequence[Envelope[Any]]) -> int:
        """Prepare a batch; returns how many were recorded. Raises (so the consumer retries) after recording the
        others if one could not be prepared for a passing reason (scanner down, PDF not there yet)."""
        unique: dict[Any, Envelope[Any]] = {}
        for env in batch:
            unique.setdefault(env.payload.notification_id, env)
        before = await self.db.transaction(lambda conn: self.ledger.claim(conn, list(unique.values())))
        todo = [env for nid, env in unique.items() if before.get(nid) in (None, "claimed")]
        if not todo:
            return 0
        results = await asyncio.gather(*(self._prepare(env) for env in todo), return_exceptions=True)
        done = [(env, r) for env, r in zip(todo, results, strict=True) if isinstance(r, Prepared)]
        if done:
            await self.db.transaction(lambda conn: record(conn, done))
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            raise failures[0]
        return len(done)

    async def _prepare(self, env: Envelope[Any]) -> Prepared:
        request: LetterDeliveryRequestedV1 = env.payload
        nid = str(request.notification_id)
        async with self._limit:
            if not request.precompiled:
                # reportlab is CPU-bound: off the event loop.
                prepared = await asyncio.to_thread(render_templated, request)
            else:
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
                prepared = await asyncio.to_thread(check_precompiled, request, pdf, infected=verdict.infected)
        log.info(
            "delivery.letter.prepared",
            notification_id=nid,
            precompiled=request.precompiled,
            outcome=prepared.failure or "ready",
            pages=prepared.page_count,
            correlation_id=env.correlation_id,
        )
        return prepared


def record(conn: Connection, done: Sequence[tuple[Envelope[Any], Prepared]]) -> None:
    """Store what the batch came to, close its ledger rows, and queue its status reports (one transaction)."""
    reports = Reports()
    for env, prepared in done:
        request: LetterDeliveryRequestedV1 = env.payload
        nid = request.notification_id
        cause = {"correlation_id": env.correlation_id, "causation_id": str(env.event_id)}
        _close(conn, nid, "failed" if prepared.failure else "sent")
        if prepared.failure is not None:
            if prepared.failure == "virus-scan-failed":
                store.quarantine(conn, nid)
            reports.add(nid, prepared.failure, detail=prepared.detail, billable_units=0, **cause)
            continue
        if prepared.pdf is not None:
            store.put_pdf(conn, nid, request.service_id, prepared.pdf, precompiled=False)
        test_key = request.key_type == "test"
        queued = store.queue_letter(
            conn,
            {
                "notification_id": nid,
                "service_id": request.service_id,
                "state": RESEARCH if test_key else "ready",
                "correlation_id": env.correlation_id,
                "created_at": request.created_at,
                "postage": prepared.postage,
                "page_count": prepared.page_count,
                "sheets": prepared.sheets,
                "pdf_size": len(prepared.pdf) if prepared.pdf is not None else store.pdf_size(conn, nid),
            },
        )
        reports.add(
            nid,
            "created",
            billable_units=prepared.sheets,
            detail=f"{prepared.page_count} pages",
            recipient=prepared.recipient,
            postage=prepared.report_postage,
            **cause,
        )
        if test_key and queued:
            sent_at = datetime.now(UTC)
            research = {"provider": RESEARCH, "provider_reference": f"{RESEARCH}-{nid}", "sent_at": sent_at}
            reports.add(nid, "sending", **research, **cause)
            reports.add(nid, "delivered", **research, **cause)
    reports.write(conn)


def _close(conn: Connection, notification_id: Any, state: str) -> None:
    conn.execute(update(sends).where(sends.c.notification_id == notification_id).values(state=state))


async def give_up(db: Database, envelope: Envelope[Any], reason: str) -> None:
    """Every retry failed: the letter ends ``technical-failure`` unless it was prepared after all."""
    await SendLedger(db, sends, outbox_table, producer=PRODUCER).give_up(envelope, reason)
    log.error("delivery.letter.gave_up", notification_id=str(envelope.payload.notification_id))
