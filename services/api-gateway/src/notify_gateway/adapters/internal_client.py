"""Cached reads from the notifications service's internal API.

One keep-alive HTTP client per process. Lookups are cached for ``ttl`` seconds and coalesced, so a burst of
requests for one service costs one internal call, and a revoked key stops working within ``ttl``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx


class InternalUnavailable(Exception):
    """The notifications service did not answer (the gateway answers 503 rather than guess)."""


async def send(http: httpx.AsyncClient, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """One internal call. No answer, or a 5xx, is ``InternalUnavailable``; every other answer is returned."""
    try:
        response = await http.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        raise InternalUnavailable(type(exc).__name__) from exc
    if response.status_code >= 500:
        raise InternalUnavailable(f"{http.base_url} answered {response.status_code}")
    return response


async def json_or_none(
    http: httpx.AsyncClient, method: str, path: str, **kwargs: Any
) -> dict[str, Any] | None:
    """The JSON body of an internal call, or None for 404 (any other 4xx is a bug here: raised)."""
    response = await send(http, method, path, **kwargs)
    if response.status_code == 404:
        return None
    response.raise_for_status()
    return response.json()  # type: ignore[no-any-return]


class TtlCache:
    """Fresh for ``ttl`` seconds; after that reloaded, but if the reload fails with ``InternalUnavailable`` the
    last value is served for up to ``stale_ttl`` seconds, so sends carry on through a notifications restart."""

    def __init__(self, ttl: float, max_entries: int = 10_000, stale_ttl: float = 300.0) -> None:
        self.ttl = ttl
        self.stale_ttl = stale_ttl
        self.max_entries = max_entries
        self._values: dict[Any, tuple[float, Any]] = {}
        self._inflight: dict[Any, asyncio.Future[Any]] = {}

    async def get(self, key: Any, load: Any, *, max_age: float | None = None) -> Any:
        """The cached value, or ``load()``'s. ``max_age`` makes an entry older than that many seconds a miss."""
        hit = self._values.get(key)
        now = time.monotonic()
        if hit is not None and hit[0] > now and (max_age is None or hit[0] - self.ttl + max_age > now):
            return hit[1]
        pending = self._inflight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            try:
                value = await load()
            except InternalUnavailable:
                if hit is None or now - hit[0] > self.stale_ttl:
                    raise
                value = hit[1]
                future.set_result(value)
                return value
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters re-raise it themselves
            raise
        else:
            future.set_result(value)
            if len(self._values) >= self.max_entries:
                self._values.clear()
            self._values[key] = (time.monotonic() + self.ttl, value)
            return value
        finally:
            self._inflight.pop(key, None)

    def invalidate(self, predicate: Any = None) -> None:
        if predicate is None:
            self._values.clear()
        else:
            for key in [k for k in self._values if predicate(k)]:
                self._values.pop(key, None)


class NotificationsClient:
    def __init__(self, base_url: str, *, ttl: float, timeout: float) -> None:
        self.http = httpx.AsyncClient(
            base_url=base_url,
            timeout=timeout,
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=50),
        )
        self.cache = TtlCache(ttl)

    async def get_json(
        self, path: str, params: Any = None, *, cache_key: Any = None
    ) -> dict[str, Any] | None:
        """GET an internal path: the JSON body, or None for 404. ``cache_key`` caches it like the lookups above."""
        if cache_key is None:
            return await self._get(path, params)
        return await self.cache.get(cache_key, lambda: self._get(path, params))  # type: ignore[no-any-return]

    async def _get(self, path: str, params: Any = None) -> dict[str, Any] | None:
        return await json_or_none(self.http, "GET", path, params=params)

    async def service(self, service_id: uuid.UUID, *, fresh: bool = False) -> dict[str, Any] | None:
        """A service's auth record. ``fresh`` re-reads it (sharing a read already under way): auth asks so only
        when the cached record cannot vouch for a token, so a token that matches no key costs one indexed read,
        as a token naming an unknown service always has."""
        return await self.cache.get(  # type: ignore[no-any-return]
            ("service", service_id),
            lambda: self._get(f"/internal/services/{service_id}/auth"),
            max_age=0 if fresh else None,
        )

    async def template(
        self, service_id: uuid.UUID, template_id: uuid.UUID, version: int | None = None
    ) -> dict[str, Any] | None:
        params = {"version": version} if version else None
        return await self.cache.get(  # type: ignore[no-any-return]
            ("template", service_id, template_id, version),
            lambda: self._get(f"/internal/services/{service_id}/templates/{template_id}", params),
        )

    async def precompiled_template(self, service_id: uuid.UUID) -> dict[str, Any] | None:
        """The service's hidden template for precompiled letters (notifications makes it on first use)."""
        path = f"/internal/services/{service_id}/precompiled-template"
        return await self.cache.get(  # type: ignore[no-any-return]
            ("precompiled", service_id), lambda: json_or_none(self.http, "PUT", path)
        )

    async def notification(self, service_id: uuid.UUID, notification_id: uuid.UUID) -> dict[str, Any] | None:
        return await self._get(f"/internal/services/{service_id}/notifications/{notification_id}")

    def forget_service(self, service_id: uuid.UUID) -> None:
        """Drop everything cached for one service (every cache key is ``(kind, service_id, ...)``)."""
        self.cache.invalidate(lambda key: len(key) > 1 and key[1] == service_id)

    async def aclose(self) -> None:
        await self.http.aclose()
