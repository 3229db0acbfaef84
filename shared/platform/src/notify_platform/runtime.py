"""One wiring point per process: connections made at start-up, background tasks, health, graceful stop.

A service builds a ``Runtime`` in its bootstrap, registers what it needs (database, broker, redis, consumers,
outbox relay, other background loops) and serves ``create_app(runtime, routers)`` with uvicorn. uvicorn turns
SIGTERM into a graceful shutdown: stop accepting, finish in-flight requests, then the lifespan stops consumers
(cancel, finish in-flight batches) and closes connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

import redis.asyncio as aioredis
from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.routing import Route

from .broker import Broker
from .consumer import Consumer, Subscription
from .db import Database
from .logging import bind_correlation_id, get_logger
from .metrics import HTTP_REQUESTS
from .outbox import OutboxRelay
from .settings import CommonSettings

log = get_logger(__name__)

Check = Callable[[], Awaitable[None]]


class Runtime:
    def __init__(self, service: str, settings: CommonSettings) -> None:
        self.service = service
        self.settings = settings
        self.db: Database | None = None
        self.broker: Broker | None = None
        self.redis: aioredis.Redis | None = None
        self.relay: OutboxRelay | None = None
        self.subscriptions: list[Subscription] = []
        self.consumers: list[Consumer] = []
        self.checks: dict[str, Check] = {}
        # Reported in readiness but not failing it: dependencies the service degrades without (e.g. Redis for
        # the gateway, whose rate limits fail open).
        self.optional_checks: dict[str, Check] = {}
        self._background: list[Callable[[], Awaitable[None]]] = []
        self._tasks: list[asyncio.Task[Any]] = []
        self._on_start: list[Callable[[], Awaitable[None]]] = []
        self._on_stop: list[Callable[[], Awaitable[None]]] = []
        self.started = False

    # --- what a bootstrap declares -------------------------------------------------------------------
    def use_database(self, url: str, *, pool_size: int | None = None) -> Database:
        self.db = Database(url, pool_size=pool_size or self.settings.db_pool_size, name=self.service)
        self.checks["database"] = self.db.ping
        return self.db

    def use_broker(self) -> Broker:
        self.broker = Broker(
            self.settings.amqp_url, exchange_name=self.settings.exchange_name, producer=self.service
        )
        self.checks["broker"] = self.broker.ping
        return self.broker

    def use_redis(self, *, required_for_readiness: bool = True) -> aioredis.Redis:
        # A blocking pool: a burst waits briefly for a free connection instead of failing at once.
        pool = aioredis.BlockingConnectionPool.from_url(
            self.settings.redis_url,
            max_connections=200,
            timeout=0.5,
            socket_timeout=0.5,
            socket_connect_timeout=0.5,
            health_check_interval=10,
        )
        self.redis = aioredis.Redis(connection_pool=pool)
        (self.checks if required_for_readiness else self.optional_checks)["redis"] = self._ping_redis
        return self.redis

    def use_outbox_relay(self) -> OutboxRelay:
        assert self.db is not None and self.broker is not None
        self.relay = OutboxRelay(self.db, self.broker)
        self._background.append(self.relay.run)
        return self.relay

    def subscribe(self, sub: Subscription) -> None:
        """Consume ``sub``. A handler that returns a truthy value (it wrote events to this process's outbox) wakes
        the outbox relay at once, so those events go out without waiting for its next poll."""
        handler = sub.handler

        async def handle_and_wake(batch: Any) -> Any:
            written = await handler(batch)
            if written and self.relay is not None:
                self.relay.wake()
            return written

        self.subscriptions.append(dataclasses.replace(sub, handler=handle_and_wake))

    def background(self, loop: Callable[[], Awaitable[None]]) -> None:
        self._background.append(loop)

    def on_start(self, fn: Callable[[], Awaitable[None]]) -> None:
        self._on_start.append(fn)

    def on_stop(self, fn: Callable[[], Awaitable[None]]) -> None:
        self._on_stop.append(fn)

    # --- lifecycle -----------------------------------------------------------------------------------
    async def start(self) -> None:
        if self.broker is not None:
            await self.broker.connect()
        for fn in self._on_start:
            await fn()
        for sub in self.subscriptions:
            assert self.broker is not None
            consumer = Consumer(self.broker, sub, prefetch=self.settings.prefetch)
            await consumer.start()
            self.consumers.append(consumer)
        for loop in self._background:
            self._tasks.append(
                asyncio.create_task(self._supervise(loop), name=getattr(loop, "__qualname__", "bg"))
            )
        self.started = True
        log.info("service.started", consumers=len(self.consumers), background=len(self._tasks))

    async def _supervise(self, loop: Callable[[], Awaitable[None]]) -> None:
        """Keep a background loop alive: log and restart it if it ever raises."""
        while True:
            try:
                await loop()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("service.background_crashed", task=getattr(loop, "__qualname__", "bg"))
                await asyncio.sleep(1)

    async def stop(self) -> None:
        self.started = False
        await asyncio.gather(*(c.stop() for c in self.consumers), return_exceptions=True)
        if self.relay is not None:
            self.relay.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for fn in self._on_stop:
            with contextlib.suppress(Exception):
                await fn()
        if self.broker is not None:
            with contextlib.suppress(Exception):
                await self.broker.close()
        if self.redis is not None:
            with contextlib.suppress(Exception):
                await self.redis.aclose()
        if self.db is not None:
            self.db.close()
        log.info("service.stopped")

    async def _ping_redis(self) -> None:
        assert self.redis is not None
        await self.redis.ping()

    async def readiness(self) -> tuple[bool, dict[str, str]]:
        results: dict[str, str] = {}
        ok = self.started
        for name, check in {**self.checks, **self.optional_checks}.items():
            try:
                await asyncio.wait_for(check(), timeout=3)
                results[name] = "ok"
            except Exception as exc:
                required = name in self.checks
                ok = ok and not required
                results[name] = f"{'failing' if required else 'degraded'}: {type(exc).__name__}"
        return ok, results


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_UNTIMED = "/metrics"


class RequestMiddleware:
    """Per request: binds ``X-Correlation-Id`` (or a new id) to the log context and echoes it on the response, and
    observes ``notify_http_request_seconds`` by route template, method and status. ``/metrics`` is not timed.

    The route template is the matched route's ``path_format`` (``scope["route"]``, set by the router), or for a
    plain Starlette route inside an included router (which FastAPI leaves without ``scope["route"]``) the template
    its endpoint (``scope["endpoint"]``) was registered under (``plain_routes``); ``unmatched`` when no route
    matched.

    One middleware for both, so a request pays for one wrapped ``send``; histogram children are cached by their
    labels (all from small sets: a method outside the standard ones is ``other``), so an observation takes no lock
    for the label lookup."""

    def __init__(self, app: Any, plain_routes: Iterable[Route] = ()) -> None:
        self.app = app
        self._children: dict[tuple[str, str, int], Any] = {}
        self._plain: dict[Any, list[Route]] = {}
        for route in plain_routes:
            self._plain.setdefault(route.endpoint, []).append(route)

    def _plain_template(self, scope: dict[str, Any]) -> str | None:
        routes = self._plain.get(scope.get("endpoint"))
        if not routes:
            return None
        if len(routes) == 1:
            return routes[0].path_format
        for route in routes:  # one endpoint under several paths: the one that matches
            if route.path_regex.match(scope["path"]):
                return route.path_format
        return None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        incoming = None
        for name, value in scope.get("headers", ()):
            if name == b"x-correlation-id":
                incoming = value.decode("latin-1")[:100]
                break
        correlation_id = incoming or str(uuid.uuid4())
        scope.setdefault("state", {})["correlation_id"] = correlation_id
        bind_correlation_id(correlation_id)
        status = 500  # what the client gets if the app raises before answering

        async def send_with_header(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((b"x-correlation-id", correlation_id.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_header)
        finally:
            route = (
                getattr(scope.get("route"), "path_format", None) or self._plain_template(scope) or "unmatched"
            )
            if route != _UNTIMED:
                method = scope["method"]
                if method not in _METHODS:
                    method = "other"
                key = (route, method, status)
                child = self._children.get(key)
                if child is None:
                    child = self._children[key] = HTTP_REQUESTS.labels(route, method, str(status))
                child.observe(time.perf_counter() - started)


CorrelationIdMiddleware = RequestMiddleware  # its former name


def health_router(runtime: Runtime) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/health/live")
    async def live() -> dict[str, str]:
        return {"status": "ok", "service": runtime.service}

    @router.get("/health/ready")
    async def ready() -> Response:
        ok, checks = await runtime.readiness()
        return JSONResponse(
            {"status": "ok" if ok else "unavailable", "service": runtime.service, "checks": checks},
            status_code=200 if ok else 503,
        )

    @router.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


def create_app(runtime: Runtime, routers: Iterable[APIRouter] = (), **fastapi_kwargs: Any) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(lifespan=lifespan, **fastapi_kwargs)
    app.state.runtime = runtime
    app.include_router(health_router(runtime))
    plain_routes = []
    for router in routers:
        app.include_router(router)
        plain_routes += [r for r in router.routes if isinstance(r, Route) and not isinstance(r, APIRoute)]
    app.add_middleware(RequestMiddleware, plain_routes=plain_routes)
    return app


def serve(app: FastAPI, *, host: str, port: int, workers_note: str = "") -> None:
    import uvicorn

    started = time.monotonic()
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=25,
        lifespan="on",
        loop="uvloop",
        http="httptools",
    )
    log.info("service.exited", uptime_s=round(time.monotonic() - started, 1), note=workers_note)
