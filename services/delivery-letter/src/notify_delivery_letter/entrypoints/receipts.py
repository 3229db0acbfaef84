"""Print-provider receipts and returned-letter reports: basic-auth authenticated (as delivery-sms authenticates its
providers), applied to the letters in one transaction, reported through the outbox under each letter's correlation id.

``POST /notifications/letter/receipts`` with ``{"receipts": [{"notification_id", "reference", "status", "reason"?}]}``
(``DESPATCHED``, ``REJECTED``, ``RETURNED``; see ``domain.receipts`` for what each does and why late, duplicate or
out-of-order receipts change nothing). A receipt for a letter that was never handed to the printer (unknown, or
not sent yet) is answered 409 after the others were applied, so the provider retries it rather than it being lost.

``POST /notifications/letter/returned`` with ``{"references": [...]}``: the printer's bulk report, days later, of
letters returned to sender, by the references it gave them. Each letter it returns becomes one ``letter.returned``
event (notifications moves it to ``returned-letter``, records it and calls the service back); a ``RETURNED`` receipt
does the same. A letter already returned is not announced again. References that name no letter the printer was
given, or one it rejected, are listed in a 409 answer after the others were applied.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import uuid
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from notify_contracts import Envelope, LetterReturnedV1, new_envelope
from notify_platform import outbox
from notify_platform.logging import get_logger
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.engine import Connection

from ..adapters import store
from ..adapters.print_wire import RECEIPT_PATH, RETURNED_PATH
from ..adapters.reports import PRODUCER, Reports
from ..adapters.tables import outbox as outbox_table
from ..domain.receipts import KNOWN_TO_PRINTER, apply_receipt

log = get_logger(__name__)
router = APIRouter()
MAX_BODY_BYTES = 5 * 1024 * 1024


class Receipt(BaseModel):
    notification_id: uuid.UUID
    reference: str | None = Field(default=None, max_length=255)
    status: Literal["DESPATCHED", "REJECTED", "RETURNED"]
    reason: str | None = Field(default=None, max_length=1000)


class ReceiptBatch(BaseModel):
    receipts: list[Receipt] = Field(min_length=1, max_length=10_000)


class ReturnedReport(BaseModel):
    references: list[str] = Field(min_length=1, max_length=10_000)


def returned_event(
    notification_id: uuid.UUID, correlation_id: str | None, reported_at: datetime
) -> Envelope[Any]:
    return new_envelope(
        LetterReturnedV1(notification_id=notification_id, reported_at=reported_at),
        producer=PRODUCER,
        correlation_id=correlation_id or str(uuid.uuid4()),
    )


def basic_auth_ok(header: str | None, username: str, password: str) -> bool:
    """Constant-time check of both parts (both always compared); unset expected credentials never match."""
    if not username or not password:
        return False
    given_user, given_password, parsed = "", "", False
    scheme, _, token = (header or "").strip().partition(" ")
    if scheme.lower() == "basic" and token:
        try:
            given_user, sep, given_password = (
                base64.b64decode(token.strip(), validate=True).decode().partition(":")
            )
            parsed = bool(sep)
        except (binascii.Error, UnicodeDecodeError, ValueError):
            parsed = False
    user_ok = hmac.compare_digest(given_user.encode(), username.encode())
    password_ok = hmac.compare_digest(given_password.encode(), password.encode())
    return parsed and user_ok and password_ok


def apply_receipts(conn: Connection, receipts: list[Receipt], provider: str) -> tuple[int, list[str]]:
    """Apply receipts in the order given; returns (reports written, ids not known to the printer)."""
    current = store.letters_for_update(conn, sorted({r.notification_id for r in receipts}))
    states = {nid: row.state for nid, row in current.items()}
    references = {nid: row.provider_reference for nid, row in current.items()}
    reports = Reports()
    returned: list[Envelope[Any]] = []
    unknown = []
    changes: dict[uuid.UUID, tuple[str, str | None]] = {}  # written together, once every receipt is applied
    for receipt in receipts:
        nid = receipt.notification_id
        if states.get(nid) not in KNOWN_TO_PRINTER:
            unknown.append(str(nid))
            continue
        change = apply_receipt(states[nid], receipt.status)
        if change is None:
            continue
        new_state, status = change
        if references[nid] is None and receipt.reference:
            references[nid] = receipt.reference
        changes[nid] = (new_state, references[nid])
        states[nid] = new_state
        if (
            receipt.status == "RETURNED"
        ):  # announced as letter.returned, like the printer's returned-letter report
            returned.append(returned_event(nid, current[nid].correlation_id, datetime.now(UTC)))
            continue
        reports.add(
            nid,
            status,
            correlation_id=current[nid].correlation_id,
            provider=provider,
            provider_reference=references[nid],
            sent_at=current[nid].sent_at,
            detail=(receipt.reason or "Rejected by the print provider")[:200]
            if receipt.status == "REJECTED"
            else None,
        )
    store.set_states(conn, changes)
    return reports.write(conn) + outbox.write(conn, outbox_table, returned), unknown


def apply_returned(conn: Connection, references: list[str]) -> tuple[int, list[str]]:
    """Return the letters the printer names by reference; returns (letters newly returned, unknown references)."""
    wanted = sorted(set(references))
    found = store.letters_by_reference_for_update(conn, wanted)
    now = datetime.now(UTC)
    unknown, changes, events = [], {}, []
    for reference in wanted:
        row = found.get(reference)
        if row is None or row.state not in KNOWN_TO_PRINTER:
            unknown.append(reference)
            continue
        change = apply_receipt(row.state, "RETURNED")
        if change is None:
            if row.state != "returned":  # rejected or cancelled: never printed, so never posted back
                unknown.append(reference)
            continue
        changes[row.notification_id] = (change[0], reference)
        events.append(returned_event(row.notification_id, row.correlation_id, now))
    store.set_states(conn, changes)
    return outbox.write(conn, outbox_table, events), unknown


M = TypeVar("M", bound=BaseModel)


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        self.response = JSONResponse({"result": "error", "message": message}, status_code=status)


async def _provider_report(
    request: Request, model: type[M], *, too_big: str, malformed: str, event: str
) -> M:
    """The print provider's report: its basic auth checked, its size bounded, its body parsed into ``model``;
    ``_Refused`` (401, 413 ``too_big``, 400 ``malformed``, logged as ``event``) otherwise."""
    ctx = request.app.state.context
    if not basic_auth_ok(request.headers.get("authorization"), ctx.receipt_username, ctx.receipt_password):
        raise _Refused(401, "Unauthorized")
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise _Refused(413, too_big)
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        log.warning(event, errors=exc.error_count())
        raise _Refused(400, malformed) from exc


@router.post(RECEIPT_PATH)
async def receipt(request: Request) -> JSONResponse:
    ctx = request.app.state.context
    try:
        parsed = await _provider_report(
            request,
            ReceiptBatch,
            too_big="Too many receipts in one request",
            malformed="Malformed receipts",
            event="delivery.letter.receipt_malformed",
        )
    except _Refused as refused:
        return refused.response
    reported, unknown = await ctx.db.transaction(
        lambda conn: apply_receipts(conn, parsed.receipts, ctx.provider_name)
    )
    if reported:
        ctx.relay.wake()
    log.info(
        "delivery.letter.receipts", received=len(parsed.receipts), reported=reported, unknown=len(unknown)
    )
    if unknown:
        log.warning("delivery.letter.receipt_unknown", notification_ids=unknown[:20])
        return JSONResponse(
            {"result": "error", "message": "Unknown notification", "unknown": unknown}, status_code=409
        )
    return JSONResponse({"result": "success"}, status_code=200)


@router.post(RETURNED_PATH)
async def returned(request: Request) -> JSONResponse:
    ctx = request.app.state.context
    try:
        parsed = await _provider_report(
            request,
            ReturnedReport,
            too_big="Too many references in one request",
            malformed="Malformed returned-letter report",
            event="delivery.letter.returned_malformed",
        )
    except _Refused as refused:
        return refused.response
    references = [r.strip() for r in parsed.references if r.strip()]
    if len(references) != len(parsed.references) or any(len(r) > 255 for r in references):
        return JSONResponse(
            {"result": "error", "message": "Malformed returned-letter report"}, status_code=400
        )
    count, unknown = await ctx.db.transaction(lambda conn: apply_returned(conn, references))
    if count:
        ctx.relay.wake()
    log.info("delivery.letter.returned", reported=len(references), returned=count, unknown=len(unknown))
    if unknown:
        log.warning("delivery.letter.returned_unknown", references=unknown[:20])
        return JSONResponse(
            {"result": "error", "message": "Unknown reference", "returned": count, "unknown": unknown},
            status_code=409,
        )
    return JSONResponse({"result": "success", "returned": count}, status_code=200)
