"""Admin routes for a service's callback configuration (admin-api.md §11): one URL and bearer token per kind of
callback. The token is stored encrypted and never returned. The callbacks themselves are sent by
``handlers/callbacks.py``."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from ..adapters.tables import service_callback_api
from ..domain.formatting import ts
from .admin_api_keys import check_user
from .admin_services import load_service
from .deps import Ctx
from .errors import AdminError

router = APIRouter()
CALLBACK_TYPES = ("delivery_status", "complaint", "returned_letter", "inbound_sms")
MIN_TOKEN_LENGTH = 10
NOT_FOUND = {
    "delivery_status": "Service delivery receipt API not found",
    "complaint": "Service complaint API not found",
    "returned_letter": "Service returned letter API not found",
    "inbound_sms": "Service inbound API not found",
}
CLASH = {"name": ["You can only have one URL and bearer token for your service."]}


class InvalidCallback(Exception):
    """Validation errors of these routes come in the v2 shape, as the reference's JSON-schema checks answer."""

    def __init__(self, *messages: str) -> None:
        self.messages = messages

    def response(self) -> JSONResponse:
        errors = [{"error": "ValidationError", "message": m} for m in self.messages]
        return JSONResponse({"status_code": 400, "errors": errors}, status_code=400)


def callback_json(row: Any) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "service_id": str(row.service_id),
        "callback_type": row.callback_type,
        "url": row.url,
        "updated_by_id": str(row.updated_by_id),
        "created_at": ts(row.created_at),
        "updated_at": ts(row.updated_at),
    }


def _valid_url(url: str, schemes: tuple[str, ...]) -> bool:
    try:
        parsed = urlparse(url)
        parsed.port  # noqa: B018 (raises ValueError for a port that is not a number from 0 to 65535)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return False
    return parsed.scheme in schemes and bool(parsed.hostname)


def _check(body: Any, *, creating: bool, allow_http: bool) -> dict[str, Any]:
    """``allow_http``: development and test settings (CALLBACK_ALLOW_HTTP) also take plain http, for a local
    receiver; where the URL may point is checked again when each callback is sent (the SSRF guard)."""
    if not isinstance(body, dict):
        raise InvalidCallback("body must be a JSON object")
    problems = []
    if creating or "url" in body:
        url = body.get("url")
        schemes = ("https", "http") if allow_http else ("https",)
        if not isinstance(url, str) or len(url) > 255 or not _valid_url(url, schemes):
            problems.append("url is not a valid https url")
    if creating or "bearer_token" in body:
        token = body.get("bearer_token")
        if not isinstance(token, str) or len(token) < MIN_TOKEN_LENGTH:
            # The reference echoes the token here; a secret has no place in an error message.
            problems.append(f"bearer_token must be at least {MIN_TOKEN_LENGTH} characters")
    try:
        uuid.UUID(str(body.get("updated_by_id")))
    except ValueError:
        problems.append("updated_by_id is not a valid UUID")
    if body.get("callback_type", "delivery_status") not in CALLBACK_TYPES:
        problems.append(f"callback_type must be one of {', '.join(CALLBACK_TYPES)}")
    if problems:
        raise InvalidCallback(*problems)
    return body


def _find(conn: Connection, service_id: uuid.UUID, callback_id: uuid.UUID, callback_type: str | None) -> Any:
    kind = callback_type or "delivery_status"
    if kind not in CALLBACK_TYPES:
        raise AdminError(
            400, {"callback_type": [f"callback_type must be one of {', '.join(CALLBACK_TYPES)}"]}
        )
    row = conn.execute(
        select(service_callback_api).where(
            service_callback_api.c.id == callback_id,
            service_callback_api.c.service_id == service_id,
            service_callback_api.c.callback_type == kind,
        )
    ).first()
    if row is None:
        raise AdminError(404, NOT_FOUND[kind])
    return row


@router.post("/service/{service_id}/callback-api", status_code=201)
async def create_callback(service_id: uuid.UUID, body: dict[str, Any], ctx: Ctx) -> Response:
    try:
        checked = _check(body, creating=True, allow_http=ctx.settings.callback_http_allowed)
    except InvalidCallback as exc:
        return exc.response()
    callback_id = uuid.uuid4()

    def create(conn: Connection) -> dict[str, Any]:
        load_service(conn, service_id)
        check_user(conn, uuid.UUID(str(checked["updated_by_id"])), "updated_by_id")
        row = conn.execute(
            service_callback_api.insert()
            .values(
                id=callback_id,
                service_id=service_id,
                callback_type=checked.get("callback_type", "delivery_status"),
                url=checked["url"],
                bearer_token_encrypted=ctx.box.encrypt(checked["bearer_token"]),
                updated_by_id=uuid.UUID(str(checked["updated_by_id"])),
            )
            .returning(service_callback_api)
        ).one()
        return callback_json(row)

    try:
        result = await ctx.db.transaction(create)
    except IntegrityError as exc:
        raise AdminError(400, CLASH) from exc
    return JSONResponse({"data": result}, status_code=201)


@router.post("/service/{service_id}/callback-api/{callback_id}")
async def update_callback(
    service_id: uuid.UUID, callback_id: uuid.UUID, body: dict[str, Any], ctx: Ctx
) -> Response:
    try:
        checked = _check(body, creating=False, allow_http=ctx.settings.callback_http_allowed)
    except InvalidCallback as exc:
        return exc.response()

    def change(conn: Connection) -> dict[str, Any]:
        current = _find(conn, service_id, callback_id, checked.get("callback_type"))
        editor = uuid.UUID(str(checked["updated_by_id"]))
        check_user(conn, editor, "updated_by_id")
        values: dict[str, Any] = {"updated_by_id": editor, "updated_at": datetime.now(UTC)}
        if "url" in checked:
            values["url"] = checked["url"]
        if "bearer_token" in checked:
            values["bearer_token_encrypted"] = ctx.box.encrypt(checked["bearer_token"])
        row = conn.execute(
            update(service_callback_api)
            .where(service_callback_api.c.id == current.id)
            .values(**values)
            .returning(service_callback_api)
        ).one()
        return callback_json(row)

    return JSONResponse({"data": await ctx.db.transaction(change)})


@router.get("/service/{service_id}/callback-api/{callback_id}")
async def get_callback(
    service_id: uuid.UUID, callback_id: uuid.UUID, ctx: Ctx, callback_type: str | None = None
) -> dict[str, Any]:
    return {
        "data": await ctx.db.transaction(
            lambda c: callback_json(_find(c, service_id, callback_id, callback_type))
        )
    }


@router.delete("/service/{service_id}/callback-api/{callback_id}", status_code=204)
async def delete_callback(
    service_id: uuid.UUID, callback_id: uuid.UUID, ctx: Ctx, callback_type: str | None = None
) -> Response:
    def remove(conn: Connection) -> None:
        row = _find(conn, service_id, callback_id, callback_type)
        conn.execute(delete(service_callback_api).where(service_callback_api.c.id == row.id))

    await ctx.db.transaction(remove)
    return Response(status_code=204)
