"""Provider delivery receipts: authenticated per provider, matched to the ledger, reported through the outbox."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from notify_platform.logging import get_logger
from notify_platform.status_reports import StatusReports
from sqlalchemy import select
from sqlalchemy.engine import Connection

from ..adapters.failover import record_receipts
from ..adapters.tables import outbox as outbox_table
from ..adapters.tables import sends
from ..providers import DELIVERED, PERMANENT_FAILURE, TECHNICAL_FAILURE, TEMPORARY_FAILURE, Receipt

log = get_logger(__name__)
router = APIRouter()
FINAL_STATUSES = frozenset({DELIVERED, PERMANENT_FAILURE, TECHNICAL_FAILURE, TEMPORARY_FAILURE})


def report_receipts(conn: Connection, taken: Sequence[tuple[str, Receipt]]) -> list[str | None]:
    """Queue each (provider, receipt) as a status report, in order; returns each send's correlation id, or None
    for a receipt whose notification is not in the ledger. A few statements however many receipts (group commit)."""
    ids: list[uuid.UUID | None] = []
    for _, receipt in taken:
        try:
            ids.append(uuid.UUID(receipt.notification_id))
        except ValueError:
            ids.append(None)
    known = {
        row.notification_id: row
        for row in conn.execute(
            select(sends.c.notification_id, sends.c.sent_at, sends.c.correlation_id).where(
                sends.c.notification_id.in_({i for i in ids if i is not None})
            )
        )
    }
    reports = StatusReports("delivery-sms", outbox_table)
    finals: list[tuple[uuid.UUID, str]] = []
    answers: list[str | None] = []
    for (provider, receipt), notification_id in zip(taken, ids, strict=True):
        row = known.get(notification_id) if notification_id is not None else None
        if row is None:
            answers.append(None)
            continue
        if receipt.status in FINAL_STATUSES:
            # When the text was delivered (or failed), for the slow-delivery check.
            finals.append((row.notification_id, receipt.status))
        correlation_id = row.correlation_id or str(uuid.uuid4())
        reports.add(
            row.notification_id,
            receipt.status,
            correlation_id=correlation_id,
            provider=provider,
            provider_reference=receipt.provider_reference,
            sent_at=row.sent_at,
            detail=receipt.detail,
        )
        answers.append(correlation_id)
    record_receipts(conn, finals)
    reports.write(conn)
    return answers


async def receipt(request: Request) -> JSONResponse:
    provider_name = request.path_params["provider_name"]
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
    correlation_id = await ctx.receipts.submit((provider_name, parsed))
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


# A plain Starlette route, not a FastAPI one: receipts come at the rate texts are sent, and this handler reads its
# own body, so FastAPI's per-request parameter solving would be pure overhead (providers' callbacks are not part of
# the documented API either).
router.add_route("/notifications/sms/{provider_name}", receipt, methods=["POST"], include_in_schema=False)
