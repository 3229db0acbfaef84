"""SES-like delivery receipts from the relay: bearer-token authenticated, matched to the ledger by Message-ID,
reported through the outbox, many receipts to a transaction (group commit); each is answered after its commit.

Mapping: ``Delivery`` → delivered; ``Bounce`` with ``bounceType`` ``Permanent`` → permanent-failure, any other
bounce → temporary-failure; ``Complaint`` leaves the status unchanged and is announced as
``email.complaint_received`` (for the service's complaint callback). A complaint can arrive more than once from a
relay; its id is derived from the Message-ID and the complaint's time, so a repeat carries the same id.
"""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from notify_contracts import EmailComplaintReceivedV1, new_envelope
from notify_platform import outbox
from notify_platform.logging import get_logger
from notify_platform.status_reports import StatusReports
from sqlalchemy import select
from sqlalchemy.engine import Connection

from ..adapters.tables import outbox as outbox_table
from ..adapters.tables import sends

log = get_logger(__name__)
router = APIRouter()
RECEIPT_PATH = "/notifications/email/receipts"


@dataclass(frozen=True)
class EmailReceipt:
    message_id: str
    kind: str  # "Delivery" | "Bounce" | "Complaint"
    status: str | None  # None: no status change (complaints)
    at: datetime | None = None  # when the relay says it happened (complaints)


def parse_receipt(body: bytes) -> EmailReceipt:
    try:
        data: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ValueError("not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("mail"), dict):
        raise ValueError("no mail object")
    message_id = data["mail"].get("messageId")
    kind = data.get("notificationType")
    if isinstance(message_id, str):
        message_id = message_id.strip()
    if not isinstance(message_id, str) or not message_id:
        raise ValueError("no mail.messageId")
    if kind == "Delivery":
        return EmailReceipt(message_id, kind, "delivered")
    if kind == "Bounce":
        bounce = data.get("bounce") if isinstance(data.get("bounce"), dict) else {}
        permanent = bounce.get("bounceType") == "Permanent"
        return EmailReceipt(message_id, kind, "permanent-failure" if permanent else "temporary-failure")
    if kind == "Complaint":
        complaint = data.get("complaint") if isinstance(data.get("complaint"), dict) else {}
        return EmailReceipt(message_id, kind, None, _when(complaint.get("timestamp")))
    raise ValueError("unknown notificationType")


def _when(value: Any) -> datetime:
    try:
        at = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return datetime.now(UTC)
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def bearer_ok(header: str | None, token: str) -> bool:
    scheme, _, presented = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not presented:
        return False
    return hmac.compare_digest(presented.strip().encode(), token.encode())


def _complaint(row: Any, receipt: EmailReceipt) -> EmailComplaintReceivedV1:
    assert receipt.at is not None
    return EmailComplaintReceivedV1(
        complaint_id=uuid.uuid5(
            uuid.NAMESPACE_URL, f"complaint:{receipt.message_id}:{receipt.at.isoformat()}"
        ),
        notification_id=row.notification_id,
        service_id=row.service_id,
        complained_at=receipt.at,
        provider_reference=receipt.message_id,
    )


def report_receipts(conn: Connection, taken: Sequence[EmailReceipt]) -> list[Any]:
    """Queue each receipt as a status report or a complaint, in order; returns each one's ledger row, or None for a
    receipt whose message is not in the ledger. A few statements however many receipts (group commit)."""
    columns = (
        sends.c.provider_reference,
        sends.c.notification_id,
        sends.c.service_id,
        sends.c.sent_at,
        sends.c.correlation_id,
    )
    known = {
        row.provider_reference: row
        for row in conn.execute(
            select(*columns).where(sends.c.provider_reference.in_({r.message_id for r in taken}))
        )
    }
    reports = StatusReports("delivery-email", outbox_table)
    envelopes: list[Any] = []
    rows: list[Any] = []
    for receipt in taken:
        row = known.get(receipt.message_id)
        rows.append(row)
        if row is None:
            continue
        correlation_id = row.correlation_id or str(uuid.uuid4())
        if receipt.status is None:
            envelopes.append(
                new_envelope(
                    _complaint(row, receipt), producer="delivery-email", correlation_id=correlation_id
                )
            )
            continue
        reports.add(
            row.notification_id,
            receipt.status,
            correlation_id=correlation_id,
            provider="smtp",
            provider_reference=receipt.message_id,
            sent_at=row.sent_at,
        )
        envelopes.append(reports.envelopes[-1])
    outbox.write(conn, outbox_table, envelopes)
    return rows


async def receipt(request: Request) -> JSONResponse:
    ctx = request.app.state.context
    if not bearer_ok(request.headers.get("authorization"), ctx.receipt_token):
        return JSONResponse({"result": "error", "message": "Unauthorized"}, status_code=401)
    try:
        parsed = parse_receipt(await request.body())
    except ValueError as exc:
        log.warning("delivery.email.receipt_malformed", error=str(exc))
        return JSONResponse({"result": "error", "message": "Malformed receipt"}, status_code=400)
    # Answered only after the transaction holding it has committed.
    row = await ctx.receipts.submit(parsed)
    if row is None:
        # Not (yet) in the ledger: answer non-2xx so the relay retries rather than the receipt being lost.
        log.warning("delivery.email.receipt_unknown", kind=parsed.kind)
        return JSONResponse({"result": "error", "message": "Unknown notification"}, status_code=409)
    ctx.relay.wake()
    if parsed.status is None:
        log.warning(
            "delivery.email.complaint",
            notification_id=str(row.notification_id),
            service_id=str(row.service_id),
            correlation_id=row.correlation_id,
        )
        return JSONResponse({"result": "success"}, status_code=200)
    log.info(
        "delivery.email.receipt",
        notification_id=str(row.notification_id),
        status=parsed.status,
        correlation_id=row.correlation_id,
    )
    return JSONResponse({"result": "success"}, status_code=200)


# A plain Starlette route, not a FastAPI one: receipts come at the rate emails are sent, and this handler reads its
# own body, so FastAPI's per-request parameter solving would be pure overhead (the relay's webhook is not part of
# the documented API either).
router.add_route(RECEIPT_PATH, receipt, methods=["POST"], include_in_schema=False)
