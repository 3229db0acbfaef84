"""Admin routes: the admin JWT is checked here, then the request is passed to the service that owns it.

Internal services trust the gateway (only it can reach them: see the NetworkPolicies), so they never see an
unauthenticated admin request.
"""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from notify_platform.logging import current_correlation_id, get_logger

from ..adapters.admin_cache import AdminCache, cacheable, written_service
from ..auth import AuthError, authenticate_admin
from .deps import context_of

log = get_logger(__name__)
router = APIRouter(include_in_schema=False)
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "authorization"}
ADMIN_PREFIXES = ("service", "user", "inbound-number")


def admin_auth_error(exc: AuthError) -> JSONResponse:
    return JSONResponse({"result": "error", "message": {"token": [exc.message]}}, status_code=exc.status_code)


def upstream_for(path: str, ctx: object) -> str:
    settings = ctx.settings  # type: ignore[attr-defined]
    parts = path.strip("/").split("/")
    if len(parts) >= 3 and parts[0] == "service" and parts[2] in ("job", "contact-list"):
        return settings.jobs_url  # type: ignore[no-any-return]
    return settings.notifications_url  # type: ignore[no-any-return]


def check_admin(request: Request, ctx: Any) -> None:
    """Raises ``AuthError`` unless the request carries a valid admin JWT."""
    authenticate_admin(
        request.headers.get("authorization"),
        client_id=ctx.settings.notify_admin_client_id,
        secrets=[ctx.settings.notify_admin_client_secret],
    )


async def proxy(request: Request, path: str) -> Response:
    ctx = context_of(request)
    try:
        check_admin(request, ctx)
    except AuthError as exc:
        return admin_auth_error(exc)
    cache: AdminCache | None = getattr(request.app.state, "admin_cache", None)
    cached_service = cacheable(request.method, path, request.url.query) if cache is not None else None
    generation = None
    if cache is not None and cached_service is not None:
        hit, generation = await cache.get(cached_service, path)
        if hit is not None:
            return Response(hit, status_code=200, media_type="application/json")
    client: httpx.AsyncClient = request.app.state.admin_http
    headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
    headers["x-correlation-id"] = current_correlation_id() or ""
    url = upstream_for(path, ctx) + "/" + path
    timeout = (
        ctx.settings.admin_upload_timeout_seconds if path.endswith("/upload") else httpx.USE_CLIENT_DEFAULT
    )
    try:
        upstream = await client.request(
            request.method,
            url,
            params=request.query_params.multi_items(),
            content=await request.body(),
            headers=headers,
            timeout=timeout,
        )
    except httpx.HTTPError as exc:
        log.error("admin.upstream_unavailable", error=type(exc).__name__)
        return JSONResponse(
            {"result": "error", "message": "Service temporarily unavailable"}, status_code=503
        )
    if cache is not None:
        changed = written_service(request.method, path)
        if changed is not None:
            await cache.forget(changed)
        elif cached_service is not None and generation is not None and upstream.status_code == 200:
            await cache.put(cached_service, path, upstream.content, generation)
    return Response(
        upstream.content,
        status_code=upstream.status_code,
        media_type=upstream.headers.get("content-type"),
    )


def _routes(prefix: str) -> None:
    async def root(request: Request) -> Response:
        return await proxy(request, prefix)

    async def nested(request: Request, rest: str) -> Response:
        return await proxy(request, f"{prefix}/{rest}")

    methods = ["GET", "POST", "PUT", "DELETE"]
    router.add_api_route(f"/{prefix}", root, methods=methods, name=f"admin_{prefix}")
    router.add_api_route(f"/{prefix}/{{rest:path}}", nested, methods=methods, name=f"admin_{prefix}_nested")


for _prefix in ADMIN_PREFIXES:
    _routes(_prefix)
