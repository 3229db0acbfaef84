"""Redis cache of the admin API's service and template reads (seed 000: ``service-{service_id}`` and the service's
templates), kept by the gateway in front of notifications.

All cached reads of one service live in one Redis hash (field = path), so one ``DEL`` drops them together. The
hash is dropped after every admin write under ``/service/{id}`` and again when the service's change event arrives
(after the commit; that second drop also clears a read that raced the write). Entries live at most ``ttl`` seconds
as a last resort. Redis being unavailable only means no caching: reads and writes go through regardless."""

from __future__ import annotations

import re
import uuid
from typing import Any

from notify_platform.logging import get_logger

log = get_logger(__name__)
CACHEABLE = re.compile(r"^service/([0-9a-fA-F-]{36})(/template/[0-9a-fA-F-]{36})?$")


def cacheable(method: str, path: str, query: str) -> uuid.UUID | None:
    """The service a cacheable read belongs to: plain ``GET /service/{id}`` and ``GET …/template/{id}``."""
    if method != "GET" or query:
        return None
    match = CACHEABLE.match(path.strip("/"))
    if match is None:
        return None
    try:
        return uuid.UUID(match.group(1))
    except ValueError:
        return None


def written_service(method: str, path: str) -> uuid.UUID | None:
    """The service whose cached reads a write under ``/service/{id}`` may have changed."""
    if method == "GET":
        return None
    parts = path.strip("/").split("/")
    if len(parts) < 2 or parts[0] != "service":
        return None
    try:
        return uuid.UUID(parts[1])
    except ValueError:
        return None


class AdminCache:
    def __init__(self, redis: Any, *, prefix: str, ttl: int) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl = ttl

    def _key(self, service_id: uuid.UUID) -> str:
        return f"{self.prefix}admin-cache:service-{service_id}"

    async def get(self, service_id: uuid.UUID, path: str) -> bytes | None:
        try:
            return await self.redis.hget(self._key(service_id), path)  # type: ignore[no-any-return]
        except Exception as exc:
            log.warning("admin.cache_unavailable", error=type(exc).__name__)
            return None

    async def put(self, service_id: uuid.UUID, path: str, body: bytes) -> None:
        key = self._key(service_id)
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hset(key, path, body)
                pipe.expire(key, self.ttl)
                await pipe.execute()
        except Exception as exc:
            log.warning("admin.cache_unavailable", error=type(exc).__name__)

    async def forget(self, service_id: uuid.UUID) -> None:
        try:
            await self.redis.delete(self._key(service_id))
        except Exception as exc:
            log.warning("admin.cache_unavailable", error=type(exc).__name__)
