"""Error responses: the v2 envelope under ``/v2``, Notify's older envelope elsewhere; never internals."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from notify_platform.logging import get_logger
from starlette.exceptions import HTTPException

from ..domain.errors import V2Error

log = get_logger(__name__)

NOT_FOUND = (
    "The requested URL was not found on the server. If you entered the URL manually please check your "
    "spelling and try again."
)
METHOD_NOT_ALLOWED = "The method is not allowed for the requested URL."


def install(app: FastAPI) -> None:
    @app.exception_handler(V2Error)
    async def _v2(_: Request, exc: V2Error) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        where = str(first["loc"][-1]) if first["loc"] else "request"
        error = V2Error(400, "ValidationError", f"{where} {first['msg']}")
        return JSONResponse(error.body(), status_code=400)

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        message = {404: NOT_FOUND, 405: METHOD_NOT_ALLOWED}.get(exc.status_code, str(exc.detail))
        return JSONResponse({"result": "error", "message": message}, status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("http.unexpected_error", path=request.url.path, error=type(exc).__name__)
        if request.url.path.startswith("/v2/"):
            error = V2Error(500, type(exc).__name__, "Internal server error")
            return JSONResponse(error.body(), status_code=500)
        return JSONResponse({"result": "error", "message": "Internal server error"}, status_code=500)
