"""behaviour.md §4.1: token bucket in Redis (real Redis when reachable), fail open, 429 message."""

from __future__ import annotations

import asyncio
import importlib.util
import time
import uuid

import pytest
import redis.asyncio as aioredis
from notify_gateway.ratelimit import RateLimiter, bucket_capacity, rate_limit_message
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError, ResponseError
from redis.retry import Retry
from structlog.testing import capture_logs

SERVICE = uuid.UUID("26785a09-ab16-4eb0-8407-a37497a57506")
T0 = 1_780_000_000.0


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def redis_client():
    client = aioredis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=0.5, socket_timeout=2)
    try:
        await client.ping()
    except Exception:
        await client.aclose()
        if importlib.util.find_spec("lupa") is None:
            pytest.skip("no Redis at 127.0.0.1:6379 and fakeredis has no Lua support (lupa) here")
        import fakeredis

        client = fakeredis.FakeAsyncRedis()
    yield client
    await client.aclose()


@pytest.fixture
async def prefix(redis_client):
    value = f"test-ratelimit-{uuid.uuid4().hex}:"
    yield value
    keys = [k async for k in redis_client.scan_iter(match=f"{value}*")]
    if keys:
        await redis_client.delete(*keys)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def limiter(redis_client, prefix, clock):
    return RateLimiter(redis_client, prefix=prefix, clock=clock)


async def burst(
    limiter: RateLimiter, n: int, limit: int, interval: int = 60, key_type: str = "normal"
) -> list[bool]:
    return [await limiter.allow(SERVICE, key_type, limit, interval) for _ in range(n)]


async def concurrent_burst(limiter: RateLimiter, n: int, limit: int) -> int:
    """n requests, 50 at a time (within the client's connection pool); returns how many were allowed."""
    allowed = 0
    for start in range(0, n, 50):
        batch = min(50, n - start)
        results = await asyncio.gather(*(limiter.allow(SERVICE, "normal", limit) for _ in range(batch)))
        allowed += results.count(True)
    return allowed


# ------------------------------------------------------------------------------------------------
# pure parts


@pytest.mark.parametrize(
    ("limit", "capacity"),
    [(1, 2), (3, 2), (4, 3), (10, 5), (60, 21), (3000, 1000), (2997, 1000), (2994, 999), (12_000_000, 1000)],
)
def test_bucket_capacity(limit, capacity):
    assert bucket_capacity(limit) == capacity


@pytest.mark.parametrize(
    ("key_type", "limit", "interval", "text"),
    [
        ("normal", 3000, 60, "Exceeded rate limit for key type LIVE of 3000 requests per 60 seconds"),
        ("team", 3000, 60, "Exceeded rate limit for key type TEAM of 3000 requests per 60 seconds"),
        ("test", 250, 60, "Exceeded rate limit for key type TEST of 250 requests per 60 seconds"),
        ("team", 10, 10, "Exceeded rate limit for key type TEAM of 10 requests per 10 seconds"),
    ],
)
def test_rate_limit_message(key_type, limit, interval, text):
    assert rate_limit_message(key_type, limit, interval) == text


def test_rate_limit_message_default_interval():
    assert rate_limit_message("normal", 12_000_000) == (
        "Exceeded rate limit for key type LIVE of 12000000 requests per 60 seconds"
    )


# ------------------------------------------------------------------------------------------------
# token bucket against Redis


async def test_default_limit_allows_999_then_refuses(limiter):
    # capacity 1000; the last token is never usable
    assert await concurrent_burst(limiter, 999, 3000) == 999
    assert await burst(limiter, 2, 3000) == [False, False]


async def test_small_limit_capacity(limiter):
    assert await burst(limiter, 6, 10) == [True, True, True, True, False, False]  # capacity 5


async def test_limit_of_three_allows_one(limiter):
    assert await burst(limiter, 3, 3) == [True, False, False]  # capacity 2


async def test_refill_credits_whole_tokens_and_keeps_the_fraction(limiter, clock):
    # 60 per 60 s = 1 token/s, capacity 21 -> 20 usable
    assert await burst(limiter, 21, 60) == [True] * 20 + [False]
    clock.now = T0 + 0.6
    assert await burst(limiter, 1, 60) == [False]  # 0.6 token: nothing credited
    clock.now = T0 + 1.2
    assert await burst(limiter, 1, 60) == [False]  # 1 token credited, taken: 0 left -> refused
    clock.now = T0 + 3.0
    # 2 more whole tokens (time since T0+1.0 carried over): take one, one remains -> allowed
    assert await burst(limiter, 2, 60) == [True, False]


async def test_refused_requests_keep_the_bucket_drained(limiter, clock):
    assert await burst(limiter, 2, 3) == [True, False]  # 3 per 60 s: capacity 2, 1 token per 20 s
    for step in range(1, 4):  # one request per refill period never gets through once drained
        clock.now = T0 + 20 * step
        assert await burst(limiter, 1, 3) == [False]
    clock.now = T0 + 20 * 3 + 40
    assert await burst(limiter, 1, 3) == [True]


async def test_refill_never_exceeds_capacity(limiter, clock):
    assert await burst(limiter, 5, 10) == [True] * 4 + [False]
    clock.now = T0 + 3600
    assert await burst(limiter, 6, 10) == [True] * 4 + [False, False]


async def test_refill_rate_is_limit_over_interval(limiter, clock):
    # 3000 per 60 s refills 50 tokens per second
    assert await concurrent_burst(limiter, 1000, 3000) == 999
    clock.now = T0 + 1.0
    assert await burst(limiter, 51, 3000) == [True] * 49 + [False, False]  # 50 credited, last one unusable


async def test_custom_interval(limiter, clock):
    # 10 per 10 s: capacity 5, 1 token per second
    assert await burst(limiter, 5, 10, interval=10) == [True] * 4 + [False]
    clock.now = T0 + 2
    assert await burst(limiter, 2, 10, interval=10) == [True, False]


async def test_buckets_are_per_service_and_key_type(limiter):
    assert await burst(limiter, 2, 3, key_type="normal") == [True, False]
    assert await burst(limiter, 2, 3, key_type="team") == [True, False]
    assert await burst(limiter, 2, 3, key_type="test") == [True, False]
    other = uuid.uuid4()
    assert await limiter.allow(other, "normal", 3) is True
    assert await limiter.allow(other, "normal", 3) is False


async def test_bucket_key_expires(limiter, redis_client):
    await limiter.allow(SERVICE, "normal", 3000)
    key = limiter.bucket_key(SERVICE, "normal")
    assert key.startswith(limiter._prefix)
    ttl = await redis_client.ttl(key)
    assert 0 < ttl <= 21  # full refill of 1000 tokens at 50/s takes 20 s


async def test_concurrent_requests_are_atomic(limiter):
    results = await asyncio.gather(*(limiter.allow(SERVICE, "normal", 60) for _ in range(60)))
    assert results.count(True) == 20


async def test_uses_redis_server_clock_by_default(redis_client, prefix):
    limiter = RateLimiter(redis_client, prefix=prefix)
    assert [await limiter.allow(SERVICE, "team", 3) for _ in range(3)] == [True, False, False]


async def test_zero_limit_refuses_everything(limiter):
    assert await limiter.allow(SERVICE, "normal", 0) is False


class CountingRedis:
    """Proxy that counts EVALSHA / SCRIPT LOAD calls on the real client."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.evalsha_calls = 0
        self.loads = 0

    async def evalsha(self, *args):
        self.evalsha_calls += 1
        return await self.inner.evalsha(*args)

    async def script_load(self, script):
        self.loads += 1
        return await self.inner.script_load(script)


async def test_script_is_loaded_at_most_once(redis_client, prefix, clock):
    counting = CountingRedis(redis_client)
    limiter = RateLimiter(counting, prefix=prefix, clock=clock)
    assert await burst(limiter, 5, 3000) == [True] * 5
    assert counting.loads <= 1
    assert counting.evalsha_calls == 5 + counting.loads


# ------------------------------------------------------------------------------------------------
# stubs: NOSCRIPT recovery and failing open


class StubRedis:
    def __init__(self, *, evalsha=None) -> None:
        self.loaded = False
        self.loads = 0
        self.calls = 0
        self._evalsha = evalsha

    async def evalsha(self, sha, numkeys, *args):
        self.calls += 1
        if self._evalsha is not None:
            return await self._evalsha()
        if not self.loaded:
            raise NoScriptError("NOSCRIPT No matching script.")
        return 1

    async def script_load(self, script):
        self.loads += 1
        self.loaded = True
        return "sha"


async def test_noscript_loads_then_uses_evalsha():
    stub = StubRedis()
    limiter = RateLimiter(stub)
    assert await limiter.allow(SERVICE, "normal", 3000) is True
    assert await limiter.allow(SERVICE, "normal", 3000) is True
    assert stub.loads == 1
    assert stub.calls == 3


async def test_dead_redis_fails_open_and_logs_warning():
    dead = aioredis.Redis(
        host="127.0.0.1", port=1, socket_connect_timeout=0.2, socket_timeout=0.2, retry=Retry(NoBackoff(), 0)
    )
    limiter = RateLimiter(dead, timeout=1.0)
    with capture_logs() as logs:
        assert await limiter.allow(SERVICE, "normal", 3000) is True
    await dead.aclose()
    assert len(logs) == 1
    entry = logs[0]
    assert entry["event"] == "ratelimit.redis_unavailable"
    assert entry["log_level"] == "warning"
    assert entry["error"] == "ConnectionError"
    assert set(entry) <= {"event", "log_level", "error", "service_id", "key_type"}


async def test_slow_redis_fails_open_quickly():
    async def hang():
        await asyncio.sleep(10)

    limiter = RateLimiter(StubRedis(evalsha=hang), timeout=0.05)
    started = time.monotonic()
    with capture_logs() as logs:
        assert await limiter.allow(SERVICE, "normal", 3000) is True
    assert time.monotonic() - started < 1
    assert [e["event"] for e in logs] == ["ratelimit.redis_unavailable"]
    assert logs[0]["error"] == "TimeoutError"


async def test_redis_error_fails_open_then_backs_off_then_retries():
    async def broken():
        raise ResponseError("ERR something odd")

    stub = StubRedis(evalsha=broken)
    limiter = RateLimiter(stub, backoff=0.2)
    with capture_logs() as logs:
        assert await limiter.allow(SERVICE, "normal", 3000) is True
        assert await limiter.allow(SERVICE, "normal", 3000) is True  # within back-off: Redis not called
        assert stub.calls == 1
        await asyncio.sleep(0.25)
        assert await limiter.allow(SERVICE, "normal", 3000) is True
        assert stub.calls == 2
    assert len(logs) == 2


async def test_recovers_after_failure():
    async def refuse():
        return 0

    state = {"fail": True}

    async def flaky():
        if state["fail"]:
            raise ConnectionError("down")
        return await refuse()

    limiter = RateLimiter(StubRedis(evalsha=flaky), backoff=0)
    with capture_logs():
        assert await limiter.allow(SERVICE, "normal", 3000) is True
    state["fail"] = False
    assert await limiter.allow(SERVICE, "normal", 3000) is False


async def test_pool_exhaustion_fails_open_without_backing_off():
    from redis.exceptions import MaxConnectionsError

    state = {"exhausted": True}

    async def pool():
        if state["exhausted"]:
            raise MaxConnectionsError("Too many connections")
        return 0

    stub = StubRedis(evalsha=pool)
    limiter = RateLimiter(stub, backoff=60)
    with capture_logs() as logs:
        assert await limiter.allow(SERVICE, "normal", 3000) is True
    assert logs[0]["error"] == "MaxConnectionsError"
    state["exhausted"] = False
    assert await limiter.allow(SERVICE, "normal", 3000) is False  # Redis consulted again at once


def test_interval_must_be_positive():
    with pytest.raises(ValueError):
        asyncio.run(RateLimiter(StubRedis()).allow(SERVICE, "normal", 10, 0))


async def test_admit_reads_the_counter_in_the_same_exchange(limiter, redis_client, prefix):
    counter = f"{prefix}daily-counter"
    assert await limiter.admit(SERVICE, "normal", 3, read_counter=counter) == (True, 0)  # no counter yet: 0
    await redis_client.set(counter, 41)
    # The second token of a limit of 3 is refused (the last token is never usable); the count is read anyway.
    assert await limiter.admit(SERVICE, "normal", 3, read_counter=counter) == (False, 41)
    assert await limiter.admit(uuid.uuid4(), "normal", 3) == (True, None)  # nothing asked, nothing read


async def test_admit_fails_open_with_an_unknown_count(prefix):
    dead = aioredis.Redis(
        host="127.0.0.1", port=1, socket_connect_timeout=0.2, socket_timeout=0.2, retry=Retry(NoBackoff(), 0)
    )
    limiter = RateLimiter(dead, prefix=prefix)
    assert await limiter.admit(SERVICE, "normal", 3, read_counter=f"{prefix}c") == (True, None)
