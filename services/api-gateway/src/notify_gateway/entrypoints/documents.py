"""Public download links for files sent by email (public-api.md §8): ``/d/{service_id}/{document_id}?key=...``.

Without confirmation the file is served at once. With confirmation (the default) a small page asks for the
recipient's email address first; the notifications service compares it (case-insensitively, in constant time)
and only then releases the content. Unknown, expired or wrongly keyed links are a plain "not found" page.
Nothing personal is logged: no key, no address, no file name.
"""

from __future__ import annotations

import base64
import html
import uuid
from typing import Any
from urllib.parse import parse_qs, quote

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from notify_platform.logging import get_logger

from .deps import Ctx

log = get_logger(__name__)
router = APIRouter(tags=["documents"], include_in_schema=False)

MAX_FORM_BYTES = 4096
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
PAGE_HEADERS = {
    **SECURITY_HEADERS,
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
}


class _Unavailable(Exception):
    pass


def _page(title: str, body: str, status_code: int = 200) -> HTMLResponse:
    document = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} – GOV.UK Notify</title>
<style>
body {{ font-family: Arial, sans-serif; font-size: 1.1875rem; line-height: 1.3; margin: 0 auto; max-width: 40em; padding: 1em; color: #0b0c0c; }}
label {{ display: block; font-weight: bold; margin-bottom: .3em; }}
input {{ font-size: 1.1875rem; padding: .3em; width: 100%; max-width: 25em; border: 2px solid #0b0c0c; }}
input:focus, button:focus {{ outline: 3px solid #fd0; }}
button {{ font-size: 1.1875rem; margin-top: 1em; padding: .4em 1em; background: #00703c; color: #fff; border: 0; }}
.error-summary {{ border: 5px solid #d4351c; padding: 1em; margin-bottom: 1em; }}
.error {{ color: #d4351c; font-weight: bold; }}
</style>
</head>
<body>
<main id="main-content">
<h1>{html.escape(title)}</h1>
{body}
</main>
</body>
</html>
"""
    return HTMLResponse(document, status_code=status_code, headers=PAGE_HEADERS)


def _not_found() -> HTMLResponse:
    return _page(
        "File not found",
        "<p>This link is not valid, or the file is no longer available. Files can only be downloaded for a "
        "limited time.</p><p>Contact the organisation that sent you the link if you still need the file.</p>",
        404,
    )


def _unavailable() -> HTMLResponse:
    return _page("Sorry, there is a problem", "<p>Try again later.</p>", 503)


def _confirm_page(action: str, error: str | None = None) -> HTMLResponse:
    summary = ""
    described = ""
    invalid = ""
    if error:
        summary = (
            '<div class="error-summary" role="alert" aria-labelledby="error-summary-title" tabindex="-1">'
            '<h2 id="error-summary-title">There is a problem</h2>'
            f'<p><a href="#email_address">{html.escape(error)}</a></p></div>'
        )
        described = ' aria-describedby="email_address-error"'
        invalid = ' aria-invalid="true"'
    field_error = (
        f'<p id="email_address-error" class="error"><span>Error:</span> {html.escape(error)}</p>'
        if error
        else ""
    )
    body = f"""{summary}
<p>For security, we need to check the email address this file was sent to before you can download it.</p>
<form method="post" action="{html.escape(action, quote=True)}" novalidate>
<label for="email_address">Email address</label>
{field_error}
<input id="email_address" name="email_address" type="email" autocomplete="email" spellcheck="false"{described}{invalid}>
<button type="submit">Continue</button>
</form>
"""
    return _page("Confirm your email address", body, 200)


def _content_disposition(filename: str) -> str:
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\;' else "_" for c in filename) or "download"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _file(document: dict[str, Any]) -> Response:
    content = base64.b64decode(document["content"])
    headers = {**SECURITY_HEADERS, "Content-Disposition": _content_disposition(document["filename"])}
    return Response(content, media_type=document["mime_type"], headers=headers)


async def _fetch(
    ctx: Ctx, service_id: uuid.UUID, document_id: uuid.UUID, key: str, email: str | None = None
) -> dict[str, Any] | None:
    headers = {"X-Document-Key": key}
    if email is not None:
        headers["X-Recipient-Email"] = email
    try:
        response = await ctx.notifications.http.get(
            f"/internal/services/{service_id}/documents/{document_id}", headers=headers
        )
    except httpx.HTTPError as exc:
        raise _Unavailable from exc
    if response.status_code == 404:
        return None
    if response.status_code != 200:
        raise _Unavailable
    return response.json()  # type: ignore[no-any-return]


def _ids(service_id: str, document_id: str) -> tuple[uuid.UUID, uuid.UUID] | None:
    try:
        return uuid.UUID(service_id), uuid.UUID(document_id)
    except ValueError:
        return None


def _action(service_id: uuid.UUID, document_id: uuid.UUID, key: str) -> str:
    return f"/d/{service_id}/{document_id}?key={quote(key, safe='')}"


@router.get("/d/{service_id}/{document_id}")
async def download(service_id: str, document_id: str, ctx: Ctx, key: str = "") -> Response:
    ids = _ids(service_id, document_id)
    if ids is None or not key or not key.isascii():
        return _not_found()
    try:
        document = await _fetch(ctx, *ids, key)
    except _Unavailable:
        log.warning("documents.store_unavailable", document_id=str(ids[1]))
        return _unavailable()
    if document is None:
        return _not_found()
    if document["content"] is not None:
        log.info("documents.downloaded", service_id=str(ids[0]), document_id=str(ids[1]), confirmed=False)
        return _file(document)
    return _confirm_page(_action(*ids, key))


@router.post("/d/{service_id}/{document_id}")
async def confirm_and_download(
    service_id: str, document_id: str, request: Request, ctx: Ctx, key: str = ""
) -> Response:
    ids = _ids(service_id, document_id)
    if ids is None or not key or not key.isascii():
        return _not_found()
    raw = await request.body()
    if len(raw) > MAX_FORM_BYTES:
        return _confirm_page(_action(*ids, key), "Enter a shorter email address")
    try:
        form = parse_qs(raw.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        form = {}
    email = (form.get("email_address") or [""])[0].strip()
    action = _action(*ids, key)
    if not email:
        return _confirm_page(action, "Enter your email address")
    try:
        document = await _fetch(ctx, *ids, key, email=email)
    except _Unavailable:
        log.warning("documents.store_unavailable", document_id=str(ids[1]))
        return _unavailable()
    if document is None:
        return _not_found()
    if document["content"] is None:
        log.info("documents.confirmation_refused", service_id=str(ids[0]), document_id=str(ids[1]))
        return _confirm_page(action, "This is not the email address the file was sent to")
    log.info("documents.downloaded", service_id=str(ids[0]), document_id=str(ids[1]), confirmed=True)
    return _file(document)
