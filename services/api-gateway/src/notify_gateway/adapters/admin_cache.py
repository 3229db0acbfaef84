"""Redis cache of the admin API's service and template reads (seed 000: ``service-{service_id}`` and the service's
templates), kept by the gateway in front of notifications.

All cached reads of one service live in one Redis hash (field = path), so one ``DEL`` drops them together. The
hash is dropped after every admin write under ``/service/{id}`` and again when the service's change event arrives.
Each drop also bumps the service's generation counter: a read notes the generation before it asks notifications
and stores its answer only if the generation is unchanged, so an answer that raced a write is never cached.
Entries live at most ``ttl`` seconds as a last resort. Redis being unavailable only means no caching."""

from __future__ import annotations

import re
import uuid
from typing import Any

from notify_platform.logging import get_logger
from redis.exceptions import WatchError

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
    """The service whose cached reads a write under ``/service/{id}`` (or ``/inbound-number/service/{id}``: its
    SMS senders) may have changed (the POST forms of the notification and received-text searches read, so they change
    nothing)."""
    if method == "GET":
        return None
    parts = path.strip("/").split("/")
    if parts[0] == "inbound-number":
        parts = parts[1:]
    if len(parts) < 2 or parts[0] != "service" or parts[2:] in (["notifications"], ["inbound-sms"]):
        return None
    try:
        return uuid.UUID(parts[1])
    except ValueError:
        return None


GENERATION_TTL = 7 * 24 * 3600


class AdminCache:
    def __init__(self, redis: Any, *, prefix: str, ttl: int) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl = ttl

    def _key(self, service_id: uuid.UUID) -> str:
        return f"{self.prefix}admin-cache:service-{service_id}"

    def _generation_key(self, service_id: uuid.UUID) -> str:
        return f"{self.prefix}admin-cache:generation-{service_id}"

    async def get(self, service_id: uuid.UUID, path: str) -> tuple[bytes | None, str | None]:
        """The cached answer (or None), and the generation to hand to :meth:`put` (None: do not cache)."""
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.hget(self._key(service_id), path)
                pipe.get(self._generation_key(service_id))
                body, generation = await pipe.execute()
        except Exception as exc:
            log.warning("admin.cache_unavailable", error=type(exc).__name__)
            return None, None
        return body, (generation.decode() if isinstance(generation, bytes) else str(generation or "0"))

    async def put(self, service_id: uuid.UUID, path: str, body: bytes, generation: str) -> None:
        """Store the answer only if no drop happened since its read began (an optimistic ``WATCH`` transaction)."""
        generation_key = self._generation_key(service_id)
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                await pipe.watch(generation_key)
                current = await pipe.get(generation_key)
                if (current.decode() if isinstance(current, bytes) else str(current or "0")) != generation:
                    await pipe.unwatch()
                    return
                pipe.multi()
                pipe.hset(self._key(service_id), path, body)
                pipe.expire(self._key(service_id), self.ttl)
                await pipe.execute()
        except WatchError:
            return  # dropped while storing: leave it uncached
        except Exception as exc:
            log.warning("admin.cache_unavailable", error=type(exc).__name__)

    async def forget(self, service_id: uuid.UUID) -> None:
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.incr(self._generation_key(service_id))
                pipe.expire(self._generation_key(service_id), GENERATION_TTL)
                pipe.delete(self._key(service_id))
                await pipe.execute()
        except Exception as exc:
            log.warning("admin.cache_unavailable", error=type(exc).__name__)
