"""Per-minute API rate limit (behaviour.md §4.1): a token bucket per service and key type, kept in Redis.

* refill: ``limit / interval`` tokens per second, credited in whole tokens (the fraction carries over);
* capacity: ``min(ceil(limit / 3) + 1, 1000)``; a new or expired bucket starts full;
* every request takes one token first and is refused if fewer than one token remains afterwards
  (so the last token is never usable); the bucket never goes below zero.

The whole read-refill-take-write step is one Lua script run with EVALSHA (loaded once, reloaded only if Redis
answers NOSCRIPT), so concurrent gateways cannot race. If Redis fails or is slow the request is allowed.

:meth:`RateLimiter.admit` is the send path's form: the same step, and in the same round trip a read of the daily
counter the request is checked against next (a send used to cost two Redis exchanges before its body was read).
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

import structlog
from redis.exceptions import MaxConnectionsError, NoScriptError, RedisError

if TYPE_CHECKING:
    import redis.asyncio

__all__ = ["MAX_CAPACITY", "RateLimiter", "bucket_capacity", "rate_limit_message"]

MAX_CAPACITY = 1000

_log = structlog.get_logger(__name__)

# KEYS[1] bucket hash {tokens, stamp}; KEYS[2], optional, a counter to read as well (then the answer is
# {allowed, count}). ARGV: refill rate (tokens/s), capacity, ttl (s), now (epoch s; empty =
# use the Redis server clock). "stamp" is the time up to which refill has been credited; crediting whole tokens
# only moves it by the time those tokens represent, so partial progress is not lost between requests.
_SCRIPT = """
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
if now == nil then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end

local state = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local tokens = tonumber(state[1])
local stamp = tonumber(state[2])
if tokens == nil or stamp == nil then
  tokens = capacity
  stamp = now
elseif now > stamp then
  local earned = math.floor((now - stamp) * rate)
  if earned > 0 then
    tokens = tokens + earned
    if tokens >= capacity then
      stamp = now
    else
      stamp = stamp + earned / rate
    end
  end
end
if tokens > capacity then
  tokens = capacity
end

tokens = tokens - 1
local allowed = 0
if tokens >= 1 then
  allowed = 1
end
if tokens < 0 then
  tokens = 0
end

redis.call('HSET', KEYS[1], 'tokens', tokens, 'stamp', string.format('%.6f', stamp))
redis.call('EXPIRE', KEYS[1], ttl)
if KEYS[2] then
  return {allowed, tonumber(redis.call('GET', KEYS[2]) or '0')}
end
return allowed
"""
_SCRIPT_SHA = hashlib.sha1(_SCRIPT.encode("utf-8")).hexdigest()

_KEY_TYPE_LABELS = {"normal": "LIVE", "team": "TEAM", "test": "TEST"}


def bucket_capacity(limit: int) -> int:
    """``min(ceil(limit / 3) + 1, 1000)``."""
    return min(-(-limit // 3) + 1, MAX_CAPACITY)


def rate_limit_message(key_type: str, limit: int, interval: int = 60) -> str:
    """The 429 ``RateLimitError`` text, e.g. ``Exceeded rate limit for key type LIVE of 3000 requests per 60 seconds``."""
    label = _KEY_TYPE_LABELS.get(key_type, key_type.upper())
    return f"Exceeded rate limit for key type {label} of {limit} requests per {interval} seconds"


class RateLimiter:
    """Token-bucket limiter. ``allow`` never raises for Redis problems: it fails open.

    ``clock`` (epoch seconds) is for tests; by default the Redis server's clock is used so that gateways with
    skewed clocks share one time line. ``timeout`` bounds the whole Redis exchange. After a Redis failure the
    limiter stays open without calling Redis for ``backoff`` seconds, so an outage costs neither latency nor a
    log line per request (not after a client-side ``MaxConnectionsError``: size the pool, or use a blocking
    pool, for the expected concurrency).
    """

    def __init__(
        self,
        redis: redis.asyncio.Redis,
        *,
        prefix: str = "notify:",
        clock: Callable[[], float] | None = None,
        timeout: float = 0.5,
        backoff: float = 1.0,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._clock = clock
        self._timeout = timeout
        self._backoff = backoff
        self._open_until = 0.0  # monotonic time until which Redis is skipped after a failure

    def bucket_key(self, service_id: uuid.UUID, key_type: str) -> str:
        return f"{self._prefix}rate-limit:{service_id}:{key_type}"

    async def allow(self, service_id: uuid.UUID, key_type: str, limit: int, interval: int = 60) -> bool:
        allowed, _ = await self.admit(service_id, key_type, limit, interval)
        return allowed

    async def admit(
        self,
        service_id: uuid.UUID,
        key_type: str,
        limit: int,
        interval: int = 60,
        *,
        read_counter: str | None = None,
    ) -> tuple[bool, int | None]:
        """Take a token (as :meth:`allow`) and, in the same exchange, read the integer counter ``read_counter``
        (0 if it does not exist). Returns (allowed, count); count is None when it was not read: no counter asked
        for, a zero limit, or Redis unavailable (fail open, so the caller treats it as unknown)."""
        if interval <= 0:
            raise ValueError("interval must be positive")
        if limit <= 0:
            return False, None
        if self._open_until and time.monotonic() < self._open_until:
            return True, None

        rate = limit / interval
        capacity = bucket_capacity(limit)
        ttl = math.ceil(capacity / rate) + 1
        now = "" if self._clock is None else f"{self._clock():.6f}"
        keys = (self.bucket_key(service_id, key_type),) + ((read_counter,) if read_counter else ())
        try:
            async with asyncio.timeout(self._timeout):
                result = await self._evalsha(keys, (repr(rate), capacity, ttl, now))
        except (RedisError, OSError, TimeoutError) as exc:
            # A client-side pool exhaustion says nothing about Redis itself: do not open the limiter for
            # everyone because of a burst (that would let a flood bypass the limit).
            if self._backoff > 0 and not isinstance(exc, MaxConnectionsError):
                self._open_until = time.monotonic() + self._backoff
            _log.warning(
                "ratelimit.redis_unavailable",
                error=type(exc).__name__,
                service_id=str(service_id),
                key_type=key_type,
            )
            return True, None
        self._open_until = 0.0
        if read_counter:
            allowed, count = result  # type: ignore[misc]
            return int(allowed) == 1, int(count)
        return int(result) == 1, None  # type: ignore[call-overload]

    async def _evalsha(self, keys: tuple[str, ...], argv: tuple[object, ...]) -> object:
        try:
            return await self._redis.evalsha(_SCRIPT_SHA, len(keys), *keys, *argv)
        except NoScriptError:
            # First use on this Redis (or its script cache was flushed): load once, then run by hash again.
            await self._redis.script_load(_SCRIPT)
            return await self._redis.evalsha(_SCRIPT_SHA, len(keys), *keys, *argv)
