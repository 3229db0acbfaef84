"""Admin-route errors in Notify's admin envelope: ``{"result": "error", "message": ...}`` (every service that serves
admin routes behind the gateway installs these)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from notify_platform.logging import get_logger

log = get_logger(__name__)


class AdminError(Exception):
    def __init__(self, status_code: int, message: str | dict[str, list[str]]) -> None:
        super().__init__(str(message))
        self.status_code = status_code
        self.message = message


def missing(*fields: str) -> AdminError:
    return AdminError(400, {f: ["Missing data for required field."] for f in fields})


def parse_uuid(field: str, value: Any) -> uuid.UUID:
    """``value`` as a UUID, or 400 ``{field: ["Not a valid UUID."]}``."""
    try:
        return uuid.UUID(str(value))
    except ValueError as exc:
        raise AdminError(400, {field: ["Not a valid UUID."]}) from exc


def not_found(message: str = "No result found") -> AdminError:
    return AdminError(404, message)


def _field(err: Any) -> str:
    """The field an error is about: the first name after where it was (``body``/``query``/``path``), or
    ``body`` for a body that is not a JSON object at all."""
    if err["type"] == "json_invalid":
        return "body"
    names = [str(part) for part in err["loc"][1:] if isinstance(part, str)]
    return names[0] if names else "body"


def install(app: FastAPI) -> None:
    @app.exception_handler(AdminError)
    async def _admin(_: Request, exc: AdminError) -> JSONResponse:
        return JSONResponse({"result": "error", "message": exc.message}, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        message: dict[str, Any] = {}
        for err in exc.errors():
            field = _field(err)
            if err["type"] == "missing":
                text = "Missing data for required field."
            elif err["type"] == "json_invalid":
                text = "Invalid JSON"
            elif err["type"] == "extra_forbidden":
                text = f"Unknown field name {field}"
            else:
                text = err["msg"].removeprefix("Value error, ")
            message.setdefault(field, []).append(text)
        return JSONResponse({"result": "error", "message": message}, status_code=400)

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"result": "error", "message": exc.detail}, status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("http.unexpected_error", path=request.url.path, error=type(exc).__name__)
        return JSONResponse({"result": "error", "message": "Internal server error"}, status_code=500)
