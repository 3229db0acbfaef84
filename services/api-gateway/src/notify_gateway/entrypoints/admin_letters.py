"""Letters the admin uploads as PDFs (admin-api.md §10, seed 000's ``send_precompiled_letter``).

Notify's admin puts the PDF in a transient store and then calls ``send-pdf-letter`` with its ``file_id``. Here the
transient store is delivery-letter itself: ``PUT /service/{id}/letter-upload/{file_id}`` hands the PDF over under
the id the letter will have (the notification id **is** ``file_id``), and ``send-pdf-letter`` announces it through
the same confirmed publish as every other send. Sending the same ``file_id`` twice gives the same notification."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ..adapters.internal_client import InternalUnavailable
from ..adapters.letters_client import PdfTooLarge
from ..auth import AuthError
from ..domain.errors import V2Error
from ..domain.sending import prepare_precompiled_letter
from .admin_proxy import admin_auth_error, check_admin
from .admin_send import ONE_OFF_KEY, Refused, admin_error, service_and_member
from .deps import Caller, context_of
from .v2_notifications import accept, check_limits

router = APIRouter(include_in_schema=False)
POSTAGE = ("first", "second", "economy", "europe", "rest-of-world")
REQUIRED = ("filename", "file_id", "postage", "recipient_address", "created_by")


def _uuid(field: str, value: Any) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError as exc:
        raise Refused(400, {field: ["Not a valid UUID."]}) from exc


def address_lines(value: Any) -> list[str]:
    """The reference takes one string (lines separated by newlines); seed 000 shows an object of lines
    (``addressline1`` …). Both are accepted; either way the lines are kept in order, blanks dropped."""
    if isinstance(value, str):
        lines = value.splitlines()
    elif isinstance(value, dict):
        lines = [str(v) for _, v in sorted(value.items(), key=lambda kv: _line_order(kv[0])) if v is not None]
    else:
        raise Refused(400, {"recipient_address": ["Must be a string or an object of address lines"]})
    lines = [line.strip() for line in lines if line.strip()]
    if not lines:
        raise Refused(400, {"recipient_address": ["Missing data for required field."]})
    return lines


def _line_order(key: str) -> tuple[int, str]:
    digits = "".join(c for c in key if c.isdigit())
    # postcode and other unnumbered keys come after the numbered lines
    return (int(digits) if digits else 99, key)


@router.put("/service/{service_id}/letter-upload/{file_id}", status_code=201)
async def upload_letter(service_id: str, file_id: str, request: Request) -> JSONResponse:
    """The PDF's bytes as the body (``application/pdf``)."""
    ctx = context_of(request)
    try:
        check_admin(request, ctx)
    except AuthError as exc:
        return admin_auth_error(exc)
    try:
        fid = _uuid("file_id", file_id)
        service = await service_and_member(ctx, _uuid("service_id", service_id), None)
        pdf = await request.body()
        if not pdf.startswith(b"%PDF"):
            raise Refused(400, {"file": ["Not a PDF"]})
        await ctx.letters.upload_pdf(uuid.UUID(service["id"]), fid, pdf)
    except Refused as exc:
        return admin_error(exc.status, exc.message)
    except PdfTooLarge:
        return admin_error(413, "Letter content is too large")
    except InternalUnavailable:
        return admin_error(
            400, {"file_id": ["A different file is already stored with this id, or it cannot be stored"]}
        )
    return JSONResponse({"id": str(fid)}, status_code=201)


@router.post("/service/{service_id}/send-pdf-letter", status_code=201)
async def send_pdf_letter(service_id: str, request: Request) -> JSONResponse:
    ctx = context_of(request)
    try:
        check_admin(request, ctx)
    except AuthError as exc:
        return admin_auth_error(exc)
    try:
        try:
            data = orjson.loads(await request.body() or b"null")
        except orjson.JSONDecodeError:
            data = None
        if not isinstance(data, dict):
            raise Refused(400, "Invalid JSON supplied in POST data")
        missing = [f for f in REQUIRED if data.get(f) in (None, "")]
        if missing:
            raise Refused(400, {f: ["Missing data for required field."] for f in missing})
        if data["postage"] not in POSTAGE:
            raise Refused(400, {"postage": [f"postage must be one of {', '.join(POSTAGE)}"]})
        fid = _uuid("file_id", data["file_id"])
        created_by = _uuid("created_by", data["created_by"])
        lines = address_lines(data["recipient_address"])
        service = await service_and_member(ctx, _uuid("service_id", service_id), created_by)
        sid = uuid.UUID(service["id"])
        if "letter" not in service["permissions"]:
            raise Refused(400, "Service is not allowed to send letters")
        if service["restricted"]:
            raise Refused(403, "Cannot send letters when service is in trial mode")
        if await ctx.letters.pdf(sid, fid) is None:
            raise Refused(400, {"file_id": ["No uploaded letter with this id"]})
        template = await ctx.notifications.precompiled_template(sid)
        if template is None:
            raise Refused(404, "No result found")
        caller = Caller(service=service, key=ONE_OFF_KEY)
        await check_limits(ctx, caller, "letter")
        accepted = prepare_precompiled_letter(
            body={"postage": data["postage"], "reference": str(data["filename"])},
            service=service,
            key=ONE_OFF_KEY,
            template=template,
        )
        event = accepted.event.model_copy(
            update={
                "notification_id": fid,
                "recipient": "\n".join(lines),
                "personalisation": {f"address_line_{i}": line for i, line in enumerate(lines, start=1)},
                "address_lines": lines,
                "created_by_id": created_by,
            }
        )
        await accept(ctx, caller, type(accepted)(event, accepted.response, accepted.smoke_test))
    except Refused as exc:
        return admin_error(exc.status, exc.message)
    except V2Error as exc:
        return admin_error(exc.status_code, exc.messages[0] if len(exc.messages) == 1 else exc.messages)
    except InternalUnavailable:
        return admin_error(503, "Service temporarily unavailable")
    return JSONResponse({"id": str(fid)}, status_code=201)
