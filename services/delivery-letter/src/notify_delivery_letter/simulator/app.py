"""An in-memory print provider speaking the batch protocol of ``adapters.print_wire``.

Uploads are checked (401 bad credentials, 400 no ``Idempotency-Key`` or a malformed archive, 413 too large), and each
new batch is "printed": every letter is counted by notification id (``GET /stats``). A retried upload with a key
already accepted is answered with the first answer (``Idempotent-Replayed: true``) and prints nothing. Receipts are
POSTed to ``receipt_url`` after ``despatch_delay_ms``, chosen by the first line of the address the simulator reads in
the letter's address window:

- the word ``reject`` (any case), e.g. ``Reject Ada Lovelace`` → ``REJECTED`` (technical-failure);
- the word ``return`` (any case), e.g. ``Return Ada Lovelace`` → ``DESPATCHED``, then ``return_delay_ms`` later
  ``RETURNED`` (returned-letter);
- anything else → ``DESPATCHED`` (delivered, public "received").

``POST /returned`` with ``{"notification_ids": [...]}`` and/or ``{"references": [...]}`` reports those letters
returned to sender now, as the printer's bulk returned-letter report (``print_wire``, one POST to ``returned_url``,
by default next to ``receipt_url``), and answers with the receiver's status code and answer. Ids the simulator never
printed are refused (404) before anything is reported; references are passed on as given (to try unknown ones).

Logs and stats carry ids, counts and postage only, never an address or letter content.
"""

from __future__ import annotations

import asyncio
import random
import re
import secrets
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal

import httpx
import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from ..adapters.print_wire import (
    BATCH_PATH,
    IDEMPOTENCY_HEADER,
    REPLAYED_HEADER,
    BatchLetter,
    MalformedBatch,
    read_archive,
)
from ..entrypoints.receipts import basic_auth_ok
from .address import address_window_lines
from .receipts import ReceiptSender
from .settings import PrintSimulatorSettings

log = structlog.get_logger("notify_delivery_letter.simulator")

Outcome = Literal["despatched", "rejected", "returned"]
_REJECT = re.compile(r"\breject\b", re.IGNORECASE)
_RETURN = re.compile(r"\breturn\b", re.IGNORECASE)


def outcome_for(address_lines: list[str]) -> Outcome:
    """What happens to a letter, by the first line of its address."""
    first = address_lines[0] if address_lines else ""
    if _REJECT.search(first):
        return "rejected"
    if _RETURN.search(first):
        return "returned"
    return "despatched"


def plan(data: bytes) -> list[tuple[BatchLetter, Outcome]]:
    """Read an upload and decide each letter's fate (CPU-bound: reads every PDF; run off the event loop)."""
    _, letters = read_archive(data)
    return [(letter, outcome_for(read_address(letter.pdf))) for letter in letters]


def read_address(pdf: bytes) -> list[str]:
    """The lines in page 1's address window (none if the PDF cannot be read: such a letter is despatched)."""
    try:
        return address_window_lines(pdf)
    except Exception:  # the simulator prints what it is given
        return []


class PrintState:
    """Everything the simulator remembers; one event loop, so no locks."""

    def __init__(
        self, settings: PrintSimulatorSettings, receipt_transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.settings = settings
        self.receipts = ReceiptSender(settings, receipt_transport)
        self.rng = random.Random(settings.seed)
        self.reset()

    def reset(self) -> None:
        self.answers: dict[
            str, dict[str, Any]
        ] = {}  # idempotency key -> the answer given to its first upload
        self.in_flight: dict[str, asyncio.Future[None]] = {}
        self.letters: dict[str, dict[str, Any]] = {}  # notification id -> what was printed (no address)
        self.printed: Counter[str] = Counter()
        self.postage: Counter[str] = Counter()
        self.replays = 0
        self.returned_reported = 0
        self.refused = {"unauthorised": 0, "malformed": 0, "injected_errors": 0}

    def stats(self) -> dict[str, Any]:
        return {
            "batches": len(self.answers),
            "replays": self.replays,
            "total": sum(self.printed.values()),
            "by_reference": dict(self.printed),
            "duplicates": [nid for nid, n in self.printed.items() if n > 1],
            "postage": dict(self.postage),
            "refused": self.refused,
            "receipts": self.receipts.counters.as_dict(),
            "returned_reported": self.returned_reported,
        }

    def record(
        self, key: str, planned: list[tuple[BatchLetter, Outcome]]
    ) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
        """Print a new batch: count its letters and answer; returns (answer, despatch receipts, return receipts)."""
        batch_reference = f"PB-{secrets.token_hex(6).upper()}"
        answer_letters, despatch, returns = [], [], []
        for number, (letter, outcome) in enumerate(planned, start=1):
            reference = f"{batch_reference}-{number:05d}"
            nid = letter.notification_id
            self.printed[nid] += 1
            self.postage[letter.postage] += 1
            self.letters[nid] = {
                "batch_id": key,
                "reference": reference,
                "postage": letter.postage,
                "sheets": letter.sheets,
                "pages": letter.pages,
                "outcome": outcome,
                "printed": self.printed[nid],
                "uploads": self.letters.get(nid, {}).get("uploads", 0) + 1,
            }
            answer_letters.append({"notification_id": nid, "reference": reference})
            receipt = {"notification_id": nid, "reference": reference, "status": "DESPATCHED"}
            if outcome == "rejected":
                receipt = {**receipt, "status": "REJECTED", "reason": "Simulated rejection by the printer"}
            despatch.append(receipt)
            if outcome == "returned":
                returns.append({**receipt, "status": "RETURNED"})
        answer = {"batch_reference": batch_reference, "letters": answer_letters}
        self.answers[key] = answer
        return answer, despatch, returns

    def replayed(self, key: str) -> dict[str, Any]:
        self.replays += 1
        answer = self.answers[key]
        for letter in answer["letters"]:
            self.letters[letter["notification_id"]]["uploads"] += 1
        return answer


def _json(status_code: int, payload: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(payload, status_code=status_code, headers=headers)


def create_app(
    settings: PrintSimulatorSettings, *, receipt_transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    """The simulator; ``receipt_transport`` (tests) carries its receipts instead of the network."""
    state = PrintState(settings, receipt_transport)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        log.info(
            "print_simulator_started",
            receipts=state.receipts.enabled,
            latency_ms=settings.latency_ms,
            despatch_delay_ms=settings.despatch_delay_ms,
        )
        try:
            yield
        finally:
            await state.receipts.aclose()
            log.info("print_simulator_stopped", batches=len(state.answers))

    app = FastAPI(
        title="Print provider simulator", lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None
    )
    app.state.simulator = state

    async def replay(key: str) -> JSONResponse:
        return _json(200, state.replayed(key), {REPLAYED_HEADER: "true"})

    @app.post(BATCH_PATH)
    async def upload(request: Request) -> JSONResponse:
        if not basic_auth_ok(request.headers.get("authorization"), settings.username, settings.password):
            state.refused["unauthorised"] += 1
            return _json(401, {"error": "invalid credentials"})
        key = (request.headers.get(IDEMPOTENCY_HEADER) or "").strip()
        if not key or len(key) > 255:
            state.refused["malformed"] += 1
            return _json(400, {"error": f"{IDEMPOTENCY_HEADER} header required"})
        if key in state.answers:
            return await replay(key)
        if key in state.in_flight:  # the same batch sent again while its first upload is being handled
            await asyncio.wait([state.in_flight[key]])
            if key in state.answers:
                return await replay(key)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > settings.max_upload_bytes:
                state.refused["malformed"] += 1
                return _json(413, {"error": "upload too large"})
        if settings.error_rate and state.rng.random() < settings.error_rate:
            state.refused["injected_errors"] += 1
            return _json(503, {"error": "simulated provider error"})
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        state.in_flight[key] = done
        try:
            planned = await asyncio.to_thread(plan, bytes(body))
            answer, despatch, returns = state.record(key, planned)
        except MalformedBatch as exc:
            state.refused["malformed"] += 1
            return _json(400, {"error": str(exc)[:200]})
        finally:
            state.in_flight.pop(key, None)
            done.set_result(None)
        state.receipts.schedule(despatch, settings.despatch_delay_ms / 1000, then=returns)
        log.info("print_batch_accepted", batch_id=key, letters=len(answer["letters"]))
        if settings.latency_ms:
            # Accepted first, answered late: a client that gives up here has still had its letters printed.
            await asyncio.sleep(settings.latency_ms / 1000)
        return _json(201, answer)

    @app.post("/returned")
    async def report_returned(request: Request) -> JSONResponse:
        try:
            body = await request.json()
        except ValueError:
            body = None
        ids = body.get("notification_ids", []) if isinstance(body, dict) else None
        references = body.get("references", []) if isinstance(body, dict) else None
        if (
            not isinstance(ids, list)
            or not isinstance(references, list)
            or not all(isinstance(x, str) and x for x in ids + references)
            or not ids + references
        ):
            return _json(400, {"error": "give notification_ids and/or references: lists of strings"})
        unknown = [nid for nid in ids if nid not in state.letters]
        if unknown:
            return _json(404, {"error": "not printed here", "unknown": unknown})
        if state.settings.returned_report_url is None:
            return _json(409, {"error": "no returned_url (or receipt_url) configured"})
        reported = [state.letters[nid]["reference"] for nid in ids] + references
        status, answer = await state.receipts.report_returned(reported)
        if 200 <= status < 300:
            state.returned_reported += len(reported)
            for nid in ids:
                state.letters[nid]["outcome"] = "returned"
        return _json(status, {"references": reported, "answer": answer})

    @app.get("/letters/{notification_id}")
    async def letter(notification_id: str) -> JSONResponse:
        found = state.letters.get(notification_id)
        return _json(200, found) if found else _json(404, {"error": "not found"})

    @app.get("/stats")
    async def stats() -> JSONResponse:
        return _json(200, state.stats())

    @app.delete("/stats")
    async def reset() -> JSONResponse:
        state.reset()
        return _json(200, state.stats())

    @app.get("/health")
    async def health() -> JSONResponse:
        return _json(200, {"status": "ok"})

    return app
