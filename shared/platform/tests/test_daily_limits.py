"""behaviour.md §4.2: daily limits per service, channel and UTC date in Redis (real Redis), fail open, 429 text."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
import redis.asyncio as aioredis
from notify_platform.daily_limits import (
    COUNTER_TTL_SECONDS,
    DailyLimitExceeded,
    DailyLimits,
    Reservation,
    counts_towards_daily_limits,
    daily_limit_message,
)
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError, ResponseError
from redis.retry import Retry
from structlog.testing import capture_logs

SERVICE = uuid.UUID("26785a09-ab16-4eb0-8407-a37497a57506")
OTHER = uuid.UUID("d6aa2c68-a2d9-4437-ab19-3ae8eb202553")
NOON = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime = NOON) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def _connect(**kwargs) -> aioredis.Redis:
    client = aioredis.Redis(
        host="127.0.0.1", port=6379, socket_connect_timeout=0.5, socket_timeout=2, **kwargs
    )
    try:
        await client.ping()
    except Exception:
        await client.aclose()
        pytest.skip("no Redis answers at 127.0.0.1:6379")
    return client


@pytest.fixture
async def redis_client():
    client = await _connect()
    yield client
    await client.aclose()


@pytest.fixture
async def prefix(redis_client):
    value = f"test-daily-limits-{uuid.uuid4().hex}:"
    yield value
    keys = [k async for k in redis_client.scan_iter(match=f"{value}*")]
    if keys:
        await redis_client.delete(*keys)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def limits(redis_client, prefix, clock):
    return DailyLimits(redis_client, prefix=prefix, clock=clock)


async def reserve_n(limits: DailyLimits, n: int, channel: str, limit: int, **kw) -> list[bool]:
    results = []
    for _ in range(n):
        try:
            await limits.reserve(SERVICE, channel, limit, **kw)
            results.append(True)
        except DailyLimitExceeded:
            results.append(False)
    return results


def dead_client() -> aioredis.Redis:
    return aioredis.Redis(
        host="127.0.0.1", port=1, socket_connect_timeout=0.2, socket_timeout=0.2, retry=Retry(NoBackoff(), 0)
    )


# ------------------------------------------------------------------------------------------------
# pure parts


@pytest.mark.parametrize(
    ("kind", "limit", "text"),
    [
        ("sms", 250000, "Exceeded send limits (sms: 250000) for today"),
        ("email", 50, "Exceeded send limits (email: 50) for today"),
        ("letter", 20000, "Exceeded send limits (letter: 20000) for today"),
        ("international_sms", 100, "Exceeded send limits (international_sms: 100) for today"),
    ],
)
def test_message(kind, limit, text):
    assert daily_limit_message(kind, limit) == text
    exc = DailyLimitExceeded(kind, limit)
    assert (exc.kind, exc.limit, exc.message, str(exc)) == (kind, limit, text, text)
    assert (exc.status_code, exc.error) == (429, "TooManyRequestsError")


@pytest.mark.parametrize(
    ("key_type", "smoke_test", "counted"),
    [("normal", False, True), ("team", False, True), ("test", False, False), ("normal", True, False)],
)
def test_test_keys_and_smoke_tests_never_count(key_type, smoke_test, counted):
    assert counts_towards_daily_limits(key_type, smoke_test=smoke_test) is counted


def test_key_has_service_channel_and_utc_date(clock):
    limits = DailyLimits(None, prefix="p:", clock=clock)  # type: ignore[arg-type]
    assert limits.counter_key(SERVICE, "sms") == f"p:daily-limit:{{{SERVICE}}}:sms:2026-03-14"
    with pytest.raises(ValueError):
        limits.counter_key(SERVICE, "fax")


def test_today_is_the_utc_date(clock):
    limits = DailyLimits(None, clock=clock)  # type: ignore[arg-type]
    clock.now = datetime(2026, 3, 15, 0, 30, tzinfo=timezone(timedelta(hours=1)))  # 23:30 UTC the day before
    assert limits.today().isoformat() == "2026-03-14"
    clock.now = datetime(2026, 3, 14, 23, 59, 59)  # naive: taken as UTC
    assert limits.today().isoformat() == "2026-03-14"


# ------------------------------------------------------------------------------------------------
# against Redis


async def test_check_refuses_exactly_at_the_boundary(limits):
    for _ in range(2):
        await limits.record(SERVICE, "sms")
    await limits.check(SERVICE, "sms", 3)  # 2 + 1 > 3 is false
    await limits.record(SERVICE, "sms")
    with pytest.raises(DailyLimitExceeded) as info:
        await limits.check(SERVICE, "sms", 3)  # 3 + 1 > 3
    assert info.value.message == "Exceeded send limits (sms: 3) for today"
    assert await limits.count(SERVICE, "sms") == 3  # checks never count


async def test_reserve_refuses_exactly_at_the_boundary(limits):
    assert await reserve_n(limits, 5, "email", 3) == [True, True, True, False, False]
    assert await limits.count(SERVICE, "email") == 3  # refusals do not count
    with pytest.raises(DailyLimitExceeded) as info:
        await limits.reserve(SERVICE, "email", 3)
    assert (info.value.kind, info.value.limit) == ("email", 3)


async def test_limit_raised_during_the_day_allows_more(limits):
    assert await reserve_n(limits, 2, "letter", 1) == [True, False]
    assert await reserve_n(limits, 2, "letter", 2) == [True, False]


async def test_zero_limit_refuses_everything(limits):
    with pytest.raises(DailyLimitExceeded):
        await limits.check(SERVICE, "sms", 0)
    assert await reserve_n(limits, 1, "sms", 0) == [False]


async def test_channels_and_services_are_independent(limits):
    assert await reserve_n(limits, 3, "sms", 2) == [True, True, False]
    assert await reserve_n(limits, 2, "email", 2) == [True, True]
    assert await reserve_n(limits, 1, "letter", 2) == [True]
    await limits.check(SERVICE, "letter", 2)
    with pytest.raises(DailyLimitExceeded):
        await limits.check(SERVICE, "email", 2)
    await limits.reserve(OTHER, "sms", 2)
    assert [await limits.count(SERVICE, c) for c in ("sms", "email", "letter", "international_sms")] == [
        2,
        2,
        1,
        0,
    ]
    assert await limits.count(OTHER, "sms") == 1


async def test_international_counts_against_sms_and_international(limits):
    await limits.reserve(SERVICE, "sms", 10, international_limit=2)
    await limits.reserve(SERVICE, "sms", 10)  # domestic: sms only
    await limits.record(SERVICE, "sms", international=True)
    assert await limits.count(SERVICE, "sms") == 3
    assert await limits.count(SERVICE, "international_sms") == 2
    with pytest.raises(DailyLimitExceeded) as info:
        await limits.check_international(SERVICE, 2)
    assert info.value.message == "Exceeded send limits (international_sms: 2) for today"
    with pytest.raises(DailyLimitExceeded) as info:
        await limits.reserve(SERVICE, "sms", 10, international_limit=2)
    assert info.value.kind == "international_sms"
    assert await limits.count(SERVICE, "sms") == 3  # all or nothing: sms not incremented either
    await limits.reserve(SERVICE, "sms", 10)  # domestic texts still go
    await limits.check_international(SERVICE, 3)


async def test_full_sms_limit_refuses_international_as_sms(limits):
    assert await reserve_n(limits, 2, "sms", 2) == [True, True]
    with pytest.raises(DailyLimitExceeded) as info:
        await limits.reserve(SERVICE, "sms", 2, international_limit=100)
    assert (info.value.kind, info.value.limit) == ("sms", 2)
    assert await limits.count(SERVICE, "international_sms") == 0


async def test_international_only_for_sms(limits):
    with pytest.raises(ValueError):
        await limits.reserve(SERVICE, "email", 10, international_limit=1)
    with pytest.raises(ValueError):
        await limits.record(SERVICE, "letter", international=True)


async def test_counters_reset_at_midnight_utc(limits, clock):
    clock.now = datetime(2026, 3, 14, 23, 59, 59, 999999, tzinfo=UTC)
    assert await reserve_n(limits, 3, "sms", 2) == [True, True, False]
    clock.now = datetime(2026, 3, 15, 0, 0, tzinfo=UTC)
    assert await limits.count(SERVICE, "sms") == 0
    await limits.check(SERVICE, "sms", 2)
    assert await reserve_n(limits, 3, "sms", 2) == [True, True, False]
    clock.now = datetime(2026, 3, 14, 23, 0, tzinfo=UTC)  # the previous day's counter is untouched
    assert await limits.count(SERVICE, "sms") == 2


async def test_expiry_of_24_hours_set_on_first_use_only(limits, redis_client):
    token = await limits.reserve(SERVICE, "email", 10)
    key = limits.counter_key(SERVICE, "email")
    assert token.keys == (key,)
    ttl = await redis_client.ttl(key)
    assert COUNTER_TTL_SECONDS - 5 <= ttl <= COUNTER_TTL_SECONDS
    await redis_client.expire(key, 100)
    await limits.reserve(SERVICE, "email", 10)
    await limits.record(SERVICE, "email")
    assert 0 < await redis_client.ttl(key) <= 100  # later increments keep the first expiry
    await limits.record(SERVICE, "sms", international=True)
    for kind in ("sms", "international_sms"):
        assert await redis_client.ttl(limits.counter_key(SERVICE, kind)) > COUNTER_TTL_SECONDS - 5


async def test_counter_without_expiry_gets_one(limits, redis_client):
    key = limits.counter_key(SERVICE, "letter")
    await redis_client.set(key, 4)
    await limits.reserve(SERVICE, "letter", 10)
    assert await redis_client.get(key) == b"5"
    assert await redis_client.ttl(key) > COUNTER_TTL_SECONDS - 5


async def test_concurrent_reservations_never_exceed_the_limit(prefix, clock):
    # two "gateways", each with its own client; a blocking pool so that the burst queues for connections
    # instead of failing open on client-side pool exhaustion
    pools = [
        aioredis.BlockingConnectionPool(host="127.0.0.1", port=6379, max_connections=40) for _ in range(2)
    ]
    clients = [aioredis.Redis(connection_pool=pool) for pool in pools]
    gateways = [DailyLimits(client, prefix=prefix, clock=clock, timeout=5) for client in clients]

    async def attempt(i: int, **kw) -> bool:
        try:
            await gateways[i % 2].reserve(SERVICE, "sms", 50, **kw)
        except DailyLimitExceeded:
            return False
        return True

    try:
        results = await asyncio.gather(*(attempt(i) for i in range(200)))
        assert results.count(True) == 50
        assert await gateways[0].count(SERVICE, "sms") == 50
        # international sub-limit under concurrency, on another service
        results = await asyncio.gather(
            *(gateways[i % 2].reserve(OTHER, "sms", 1000, international_limit=30) for i in range(120)),
            return_exceptions=True,
        )
        assert sum(isinstance(r, Reservation) for r in results) == 30
        assert all(isinstance(r, (Reservation, DailyLimitExceeded)) for r in results)
        assert await gateways[1].count(OTHER, "international_sms") == 30
        assert await gateways[1].count(OTHER, "sms") == 30
    finally:
        for client in clients:
            await client.aclose()


async def test_release_after_failed_publish_gives_the_slot_back(limits):
    class PublishFailed(Exception):
        pass

    async def send(publish_ok: bool) -> None:
        token = await limits.reserve(SERVICE, "sms", 2, international_limit=1)
        try:
            if not publish_ok:
                raise PublishFailed
        except PublishFailed:
            await limits.release(token)
            raise

    with pytest.raises(PublishFailed):
        await send(publish_ok=False)
    assert await limits.count(SERVICE, "sms") == 0
    assert await limits.count(SERVICE, "international_sms") == 0
    await send(publish_ok=True)
    with pytest.raises(DailyLimitExceeded):
        await send(publish_ok=True)  # international_sms: 1 reached
    assert await limits.count(SERVICE, "sms") == 1


async def test_release_is_idempotent_and_never_goes_below_zero(limits, redis_client):
    first = await limits.reserve(SERVICE, "email", 5)
    await limits.reserve(SERVICE, "email", 5)
    await limits.release(first)
    await limits.release(first)  # second release does nothing
    assert first.released
    assert await limits.count(SERVICE, "email") == 1
    key = limits.counter_key(SERVICE, "email")
    await redis_client.delete(key)
    await limits.release(await _reservation_for(limits, key))
    assert await redis_client.exists(key) == 0  # never recreated (it would have no expiry)


async def _reservation_for(limits: DailyLimits, key: str) -> Reservation:
    return Reservation(SERVICE, limits.today(), ("email",), (key,), counted=True)


async def test_release_after_midnight_decrements_the_reserved_day(limits, clock):
    clock.now = datetime(2026, 3, 14, 23, 59, 59, tzinfo=UTC)
    token = await limits.reserve(SERVICE, "letter", 5)
    clock.now = datetime(2026, 3, 15, 0, 0, 1, tzinfo=UTC)
    await limits.reserve(SERVICE, "letter", 5)
    await limits.release(token)
    assert await limits.count(SERVICE, "letter") == 1
    clock.now = datetime(2026, 3, 14, 23, 59, 59, tzinfo=UTC)
    assert await limits.count(SERVICE, "letter") == 0


async def test_default_clock_is_utc_now(redis_client, prefix):
    limits = DailyLimits(redis_client, prefix=prefix)
    token = await limits.reserve(SERVICE, "sms", 5)
    assert token.day == datetime.now(UTC).date()
    assert token.keys[0].endswith(f":sms:{token.day.isoformat()}")


# ------------------------------------------------------------------------------------------------
# failing open


async def test_dead_redis_fails_open_and_warns_once_per_backoff_window():
    dead = dead_client()
    limits = DailyLimits(dead, timeout=1.0, backoff=30)
    try:
        with capture_logs() as logs:
            await limits.check(SERVICE, "sms", 1)
            token = await limits.reserve(SERVICE, "sms", 1, international_limit=1)
            await limits.check_international(SERVICE, 1)
            await limits.record(SERVICE, "email")
            await limits.release(token)
            assert await limits.count(SERVICE, "sms") == 0
    finally:
        await dead.aclose()
    assert token.counted is False
    assert token.released is True
    assert len(logs) == 1  # the other calls fell within the back-off window: Redis not called, no log
    entry = logs[0]
    assert entry["event"] == "daily_limits.redis_unavailable"
    assert entry["log_level"] == "warning"
    assert entry["error"] == "ConnectionError"
    assert (entry["op"], entry["service_id"], entry["kind"]) == ("check", str(SERVICE), "sms")


async def test_dead_redis_without_backoff_warns_each_time_and_zero_limit_still_refuses():
    dead = dead_client()
    limits = DailyLimits(dead, timeout=1.0, backoff=0)
    try:
        with capture_logs() as logs:
            await limits.reserve(SERVICE, "email", 1)
            await limits.record(SERVICE, "email")
            with pytest.raises(DailyLimitExceeded):
                await limits.reserve(SERVICE, "email", 0)  # counts read as zero: 0 + 1 > 0
    finally:
        await dead.aclose()
    assert [(e["event"], e["op"]) for e in logs] == [
        ("daily_limits.redis_unavailable", "reserve"),
        ("daily_limits.redis_unavailable", "record"),
        ("daily_limits.redis_unavailable", "reserve"),
    ]


class StubRedis:
    def __init__(self, evalsha=None, get=None) -> None:
        self.loaded: set[str] = set()
        self.loads = 0
        self.calls = 0
        self._evalsha = evalsha
        self._get = get

    async def evalsha(self, sha, numkeys, *args):
        self.calls += 1
        if self._evalsha is not None:
            return await self._evalsha()
        if sha not in self.loaded:
            raise NoScriptError("NOSCRIPT No matching script.")
        return [1]

    async def script_load(self, script):
        import hashlib

        self.loads += 1
        self.loaded.add(hashlib.sha1(script.encode()).hexdigest())
        return "sha"

    async def get(self, key):
        self.calls += 1
        return await self._get() if self._get is not None else None


async def test_noscript_loads_then_uses_evalsha():
    stub = StubRedis()
    limits = DailyLimits(stub)  # type: ignore[arg-type]
    await limits.reserve(SERVICE, "sms", 10)
    await limits.reserve(SERVICE, "sms", 10)
    assert (stub.loads, stub.calls) == (1, 3)


async def test_slow_redis_fails_open_quickly():
    async def hang():
        await asyncio.sleep(10)

    limits = DailyLimits(StubRedis(evalsha=hang, get=hang), timeout=0.05)  # type: ignore[arg-type]
    started = time.monotonic()
    with capture_logs() as logs:
        await limits.check(SERVICE, "sms", 1)
        token = await limits.reserve(SERVICE, "sms", 1)
    assert time.monotonic() - started < 1
    assert token.counted is False
    assert [(e["event"], e["error"]) for e in logs] == [("daily_limits.redis_unavailable", "TimeoutError")]


async def test_backs_off_then_retries_then_recovers():
    state = {"fail": True}

    async def flaky():
        if state["fail"]:
            raise ResponseError("ERR something odd")
        return [0, 1, 7]

    stub = StubRedis(evalsha=flaky)
    limits = DailyLimits(stub, backoff=0.2)  # type: ignore[arg-type]
    with capture_logs() as logs:
        assert (await limits.reserve(SERVICE, "sms", 7)).counted is False
        assert (await limits.reserve(SERVICE, "sms", 7)).counted is False  # within back-off: not called
        assert stub.calls == 1
        await asyncio.sleep(0.25)
        state["fail"] = False
        with pytest.raises(DailyLimitExceeded):
            await limits.reserve(SERVICE, "sms", 7)
    assert stub.calls == 2
    assert len(logs) == 1


async def test_pool_exhaustion_fails_open_without_backing_off():
    from redis.exceptions import MaxConnectionsError

    state = {"exhausted": True}

    async def pool():
        if state["exhausted"]:
            raise MaxConnectionsError("Too many connections")
        return [0, 1, 3]

    limits = DailyLimits(StubRedis(evalsha=pool), backoff=60)  # type: ignore[arg-type]
    with capture_logs() as logs:
        assert (await limits.reserve(SERVICE, "sms", 3)).counted is False
    assert logs[0]["error"] == "MaxConnectionsError"
    state["exhausted"] = False
    with pytest.raises(DailyLimitExceeded):
        await limits.reserve(SERVICE, "sms", 3)  # Redis consulted again at once


async def test_a_job_reserves_all_its_rows_at_once_or_none(limits):
    await limits.reserve(SERVICE, "sms", 100, amount=60)
    assert await limits.count(SERVICE, "sms") == 60
    with pytest.raises(DailyLimitExceeded) as refused:
        await limits.reserve(SERVICE, "sms", 100, amount=41)
    assert refused.value.message == "Exceeded send limits (sms: 100) for today"
    assert await limits.count(SERVICE, "sms") == 60  # nothing taken by the refused job
    token = await limits.reserve(SERVICE, "sms", 100, amount=40)
    assert await limits.count(SERVICE, "sms") == 100
    await limits.release(token)
    assert await limits.count(SERVICE, "sms") == 60


async def test_reserve_stores_a_value_with_the_reservation_and_release_removes_it(
    limits, redis_client, prefix
):
    key = f"{prefix}accepted:1"
    token = await limits.reserve(SERVICE, "sms", 2, store=(key, b"record", 60))
    assert await redis_client.get(key) == b"record"
    assert 0 < await redis_client.ttl(key) <= 60
    assert await limits.count(SERVICE, "sms") == 1
    await limits.release(token)
    assert await redis_client.get(key) is None
    assert await limits.count(SERVICE, "sms") == 0


async def test_a_refused_reservation_stores_nothing(limits, redis_client, prefix):
    await limits.reserve(SERVICE, "sms", 1)
    key = f"{prefix}accepted:2"
    with pytest.raises(DailyLimitExceeded):
        await limits.reserve(SERVICE, "sms", 1, store=(key, b"record", 60))
    assert await redis_client.get(key) is None
    assert await limits.count(SERVICE, "sms") == 1


@pytest.mark.parametrize(("count", "refused"), [(None, False), (0, False), (2, False), (3, True)])
def test_check_count_judges_a_count_read_elsewhere(count, refused):
    if refused:
        with pytest.raises(DailyLimitExceeded, match=r"\(sms: 3\)"):
            DailyLimits.check_count("sms", 3, count)
    else:
        DailyLimits.check_count("sms", 3, count)
