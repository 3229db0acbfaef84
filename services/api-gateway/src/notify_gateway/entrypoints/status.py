"""``GET /`` and ``/_status``: the gateway's own readiness, as Notify serves it."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

router = APIRouter(include_in_schema=False)


@router.api_route("/_status", methods=["GET", "POST"])
async def status(request: Request) -> JSONResponse:
    ok, checks = await request.app.state.runtime.readiness()
    return JSONResponse({"status": "ok" if ok else "error", "checks": checks}, status_code=200 if ok else 503)


@router.get("/")
async def index() -> dict[str, str]:
    return {"status": "ok", "service": "notify-api-gateway"}
