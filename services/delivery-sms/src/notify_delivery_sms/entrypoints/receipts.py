"""Provider delivery receipts: authenticated per provider, matched to the ledger, reported through the outbox."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from notify_platform.logging import current_correlation_id, get_logger
from notify_platform.status_reports import StatusReports
from sqlalchemy import select
from sqlalchemy.engine import Connection

from ..adapters.failover import record_receipt
from ..adapters.tables import outbox as outbox_table
from ..adapters.tables import sends
from ..providers import DELIVERED, PERMANENT_FAILURE, TECHNICAL_FAILURE, TEMPORARY_FAILURE, Receipt

log = get_logger(__name__)
router = APIRouter()
FINAL_STATUSES = frozenset({DELIVERED, PERMANENT_FAILURE, TECHNICAL_FAILURE, TEMPORARY_FAILURE})


def _report(conn: Connection, provider: str, receipt: Receipt) -> str | None:
    """Queue the receipt as a status report; returns the send's correlation id, or None if it is unknown."""
    try:
        notification_id = uuid.UUID(receipt.notification_id)
    except ValueError:
        return None
    row = conn.execute(
        select(sends.c.notification_id, sends.c.sent_at, sends.c.correlation_id).where(
            sends.c.notification_id == notification_id
        )
    ).first()
    if row is None:
        return None
    if receipt.status in FINAL_STATUSES:
        # When the text was delivered (or failed), for the slow-delivery check.
        record_receipt(conn, notification_id, receipt.status)
    correlation_id = row.correlation_id or current_correlation_id() or str(uuid.uuid4())
    StatusReports("delivery-sms", outbox_table).add(
        notification_id,
        receipt.status,
        correlation_id=correlation_id,
        provider=provider,
        provider_reference=receipt.provider_reference,
        sent_at=row.sent_at,
        detail=receipt.detail,
    ).write(conn)
    return correlation_id


@router.post("/notifications/sms/{provider_name}")
async def receipt(provider_name: str, request: Request) -> JSONResponse:
    ctx = request.app.state.context
    provider = ctx.pool.providers.get(provider_name)
    if provider is None:
        return JSONResponse({"result": "error", "message": "Unknown provider"}, status_code=404)
    if not provider.receipt_authorised(request.headers):
        return JSONResponse({"result": "error", "message": "Unauthorized"}, status_code=401)
    body = await request.body()
    try:
        parsed = provider.parse_receipt(body, request.headers.get("content-type", ""))
    except ValueError as exc:
        log.warning("delivery.sms.receipt_malformed", provider=provider_name, error=str(exc)[:200])
        return JSONResponse({"result": "error", "message": "Malformed receipt"}, status_code=400)
    correlation_id = await ctx.db.transaction(lambda conn: _report(conn, provider_name, parsed))
    if correlation_id is None:
        # Not (yet) in the ledger: answer non-2xx so the provider retries rather than the receipt being lost.
        log.warning("delivery.sms.receipt_unknown", provider=provider_name)
        return JSONResponse({"result": "error", "message": "Unknown notification"}, status_code=409)
    ctx.relay.wake()
    log.info(
        "delivery.sms.receipt",
        provider=provider_name,
        notification_id=parsed.notification_id,
        status=parsed.status,
        correlation_id=correlation_id,
    )
    return JSONResponse({"result": "success"}, status_code=200)
