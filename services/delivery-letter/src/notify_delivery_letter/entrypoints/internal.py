"""Internal API for the gateway (no auth: reachable only from inside, like the notifications service's
``/internal`` routes; in Kubernetes a NetworkPolicy admits the gateway only).

``PUT /internal/letters/{notification_id}/pdf?service_id=<uuid>``: the raw PDF of a precompiled letter, stored
before its ``notification.requested`` is published. 201 stored, 200 the same bytes again (idempotent), 409 other
bytes or another service for that id, 413 larger than ``LETTER_PDF_MAX_BYTES`` (10 MB), 400 empty.

``GET /internal/letters/{notification_id}/pdf?service_id=<uuid>``: 200 ``application/pdf`` when that service's
letter has a PDF (uploaded, or rendered once the letter was prepared), else 404 (none yet, another service's, or
quarantined by the virus scan).
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from notify_platform.logging import get_logger

from ..adapters import store

log = get_logger(__name__)
router = APIRouter(prefix="/internal/letters")


def _error(status_code: int, message: str) -> JSONResponse:
    return JSONResponse({"result": "error", "message": message}, status_code=status_code)


@router.put("/{notification_id}/pdf")
async def put_pdf(notification_id: uuid.UUID, service_id: uuid.UUID, request: Request) -> Response:
    ctx = request.app.state.context
    limit: int = ctx.pdf_max_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return _error(413, f"Letter PDFs must be {limit} bytes or smaller")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return _error(413, f"Letter PDFs must be {limit} bytes or smaller")
    if not body:
        return _error(400, "Empty body: send the PDF's bytes")
    data = bytes(body)
    outcome = await ctx.db.transaction(
        lambda conn: store.put_pdf(conn, notification_id, service_id, data, precompiled=True)
    )
    fields: dict[str, Any] = {"notification_id": str(notification_id), "size": len(data)}
    if outcome == "conflict":
        log.warning("delivery.letter.pdf_conflict", **fields)
        return _error(409, "A different PDF is already stored for this notification")
    log.info("delivery.letter.pdf_stored", replayed=outcome == "same", **fields)
    return JSONResponse({"result": "success", **fields}, status_code=201 if outcome == "created" else 200)


@router.get("/{notification_id}/pdf")
async def get_pdf(notification_id: uuid.UUID, service_id: uuid.UUID, request: Request) -> Response:
    ctx = request.app.state.context
    pdf = await ctx.db.transaction(lambda conn: store.servable_pdf(conn, notification_id, service_id))
    if pdf is None:
        return _error(404, "No PDF for this letter")
    return Response(pdf, media_type="application/pdf")
