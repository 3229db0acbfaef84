"""Daily sending limits (behaviour.md §4.2), shared by the gateway (one send) and jobs (a whole CSV job): one Redis counter per service, channel and UTC calendar date.

Channels ("kinds") are ``sms``, ``email``, ``letter`` and ``international_sms``; the last is a sub-limit: an
international text counts against both ``sms`` and ``international_sms``. A counter is created with a 24-hour
expiry on first use and its key contains the UTC date, so limits reset at midnight UTC. Refusal is
``count + 1 > limit`` → :class:`DailyLimitExceeded` (429 ``TooManyRequestsError``
``Exceeded send limits (sms: 250000) for today``).

Concurrency semantics (why there is a ``reserve``/``release`` pair)
-------------------------------------------------------------------
Notify checks the counter when the request arrives and increments it later, when the notification is stored, so
concurrent requests can all read ``limit - 1`` and all pass. Here the authoritative step is :meth:`reserve`: one
Lua script (EVALSHA) that, for every counter involved, checks ``count + 1 <= limit`` and only then increments
them all. Gateways racing each other therefore never push a counter past its limit: with a limit of 50, 200
concurrent reservations give exactly 50 successes. A reservation is taken when the request is accepted (just
before publishing); if the publish then fails, :meth:`release` decrements the same counters (of the same date,
even if midnight has passed meanwhile). The only imprecision is conservative: while a reservation whose publish
is going to fail is in flight it occupies a slot, so a request racing it may be refused although the limit
would finally not have been reached. The count never exceeds the limit.

:meth:`check` and :meth:`check_international` are read-only pre-checks that keep Notify's order of errors
(public-api.md §5.0: the channel's daily limit answers 429 before the body is even parsed; the international
sub-limit is checked during recipient validation). They never count anything; only ``reserve`` (or the
unconditional :meth:`record`) does.

What the caller must not count
------------------------------
* Test keys (behaviour.md §1) never touch the counters: neither check nor reserve (a test key's counter is never
  incremented, so with any positive limit the check always passes; skipping it is equivalent).
* Smoke-test recipients (behaviour.md §3.1) are never counted: do not ``reserve`` for them. The early
  :meth:`check` still applies to them (Notify checks before it knows the recipient).

:func:`counts_towards_daily_limits` encodes both rules.

Redis unavailable or slow (``timeout``) → checks and reservations are allowed, increments and releases are
skipped, counts read as zero (fail open), with a structlog warning. After a failure Redis is not called again for
``backoff`` seconds, so an outage costs neither latency nor a log line per request. Reservations made while
failing open are marked ``counted=False`` and their release is a no-op. Keys carry the service id as a Redis
hash tag (``{<service id>}``) so that the multi-key scripts also work on a Redis Cluster.

The date comes from the gateway's clock (``clock``, UTC; injectable for tests), not from Redis: keep gateway
clocks NTP-synchronised, or requests in the seconds around midnight may be counted on either day.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

import structlog
from redis.exceptions import MaxConnectionsError, NoScriptError, RedisError

if TYPE_CHECKING:
    import redis.asyncio

__all__ = [
    "CHANNELS",
    "COUNTER_TTL_SECONDS",
    "INTERNATIONAL_SMS",
    "DailyLimitExceeded",
    "DailyLimits",
    "Reservation",
    "counts_towards_daily_limits",
    "daily_limit_message",
]

INTERNATIONAL_SMS = "international_sms"
CHANNELS = frozenset({"sms", "email", "letter", INTERNATIONAL_SMS})
COUNTER_TTL_SECONDS = 24 * 60 * 60

_log = structlog.get_logger(__name__)

# KEYS: counters in check order, then optionally a key to store a value at once if the reservation succeeds.
# ARGV[1]: ttl (s); ARGV[2]: how many slots; ARGV[3]: how many counters (n); ARGV[3 + i]: the limit for KEYS[i];
# then, with the extra key, its value and its expiry (s). Returns {1} when every counter was incremented (and the
# value stored), {0, i, count} when KEYS[i] is full (nothing incremented, nothing stored).
_RESERVE = """
local ttl = tonumber(ARGV[1])
local amount = tonumber(ARGV[2])
local counters = tonumber(ARGV[3])
for i = 1, counters do
  local limit = tonumber(ARGV[i + 3])
  local count = tonumber(redis.call('GET', KEYS[i]) or '0')
  if count + amount > limit then
    return {0, i, count}
  end
end
for i = 1, counters do
  local value = redis.call('INCRBY', KEYS[i], amount)
  if value == amount or redis.call('TTL', KEYS[i]) < 0 then
    redis.call('EXPIRE', KEYS[i], ttl)
  end
end
if #KEYS > counters then
  redis.call('SET', KEYS[counters + 1], ARGV[counters + 4], 'EX', ARGV[counters + 5])
end
return {1}
"""

# KEYS: counters. ARGV[1]: ttl (s). Unconditional increment, expiry set on first use.
_RECORD = """
local ttl = tonumber(ARGV[1])
for i = 1, #KEYS do
  local value = redis.call('INCR', KEYS[i])
  if value == 1 or redis.call('TTL', KEYS[i]) < 0 then
    redis.call('EXPIRE', KEYS[i], ttl)
  end
end
return 1
"""

# KEYS: counters, then optionally the key stored with the reservation (deleted). ARGV[1]: how many slots; ARGV[2]:
# how many counters. Decrement each counter that exists by at most its value (never creates a key, never goes
# below zero, keeps the key's expiry).
_RELEASE = """
local amount = tonumber(ARGV[1])
local counters = tonumber(ARGV[2])
if #KEYS > counters then
  redis.call('DEL', KEYS[counters + 1])
end
for i = 1, counters do
  local value = tonumber(redis.call('GET', KEYS[i]))
  if value ~= nil and value > 0 then
    redis.call('DECRBY', KEYS[i], math.min(value, amount))
  end
end
return 1
"""


_SHAS = {script: hashlib.sha1(script.encode("utf-8")).hexdigest() for script in (_RESERVE, _RECORD, _RELEASE)}


def daily_limit_message(kind: str, limit: int) -> str:
    """The 429 ``TooManyRequestsError`` text, e.g. ``Exceeded send limits (sms: 250000) for today``."""
    return f"Exceeded send limits ({kind}: {limit}) for today"


def counts_towards_daily_limits(key_type: str, *, smoke_test: bool = False) -> bool:
    """Whether a send touches the daily counters: never for test keys (§1) nor smoke-test recipients (§3.1)."""
    return key_type != "test" and not smoke_test


class DailyLimitExceeded(Exception):
    """Refusal: answer 429 ``TooManyRequestsError`` with :attr:`message`."""

    status_code = 429
    error = "TooManyRequestsError"

    def __init__(self, kind: str, limit: int) -> None:
        self.kind = kind
        self.limit = limit
        self.message = daily_limit_message(kind, limit)
        super().__init__(self.message)


@dataclass
class Reservation:
    """Token returned by :meth:`DailyLimits.reserve`; pass it to :meth:`DailyLimits.release` to give it back.

    ``counted`` is false when Redis was unavailable (nothing was incremented, release does nothing). A token is
    released at most once.
    """

    service_id: uuid.UUID
    day: date
    kinds: tuple[str, ...]
    keys: tuple[str, ...]
    counted: bool
    amount: int = 1
    released: bool = field(default=False, compare=False)
    stored_key: str | None = None  # stored with the reservation; deleted on release


def _utc_now() -> datetime:
    return datetime.now(UTC)


class DailyLimits:
    """Per-service daily counters in Redis. Never raises for Redis problems: it fails open (see module doc)."""

    def __init__(
        self,
        redis: redis.asyncio.Redis,
        *,
        prefix: str = "notify:",
        clock: Callable[[], datetime] | None = None,
        timeout: float = 0.5,
        backoff: float = 1.0,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._clock = clock or _utc_now
        self._timeout = timeout
        self._backoff = backoff
        self._open_until = 0.0  # monotonic time until which Redis is skipped after a failure

    # -- keys and dates ---------------------------------------------------------------------------------------

    def today(self) -> date:
        """Today's UTC date by the injected clock (a naive datetime is taken to be UTC)."""
        now = self._clock()
        if now.tzinfo is not None:
            now = now.astimezone(UTC)
        return now.date()

    def counter_key(self, service_id: uuid.UUID, kind: str, day: date | None = None) -> str:
        if kind not in CHANNELS:
            raise ValueError(f"unknown daily-limit kind {kind!r}")
        day = day or self.today()
        return f"{self._prefix}daily-limit:{{{service_id}}}:{kind}:{day.isoformat()}"

    # -- read-only checks (order-of-errors fidelity; they do not count) ---------------------------------------

    async def check(self, service_id: uuid.UUID, channel: str, limit: int) -> None:
        """Raise :class:`DailyLimitExceeded` if ``count + 1 > limit`` for today (Redis unavailable → allowed)."""
        await self._check(service_id, channel, limit)

    async def check_international(self, service_id: uuid.UUID, limit: int) -> None:
        """The ``international_sms`` sub-limit, checked during recipient validation of an international text."""
        await self._check(service_id, INTERNATIONAL_SMS, limit)

    async def _check(self, service_id: uuid.UUID, kind: str, limit: int) -> None:
        key = self.counter_key(service_id, kind)
        value = await self._call(self._redis.get, key, op="check", service_id=service_id, kind=kind)
        self.check_count(kind, limit, None if value is _FAILED or value is None else int(value))

    @staticmethod
    def check_count(kind: str, limit: int, count: int | None) -> None:
        """The check on a count read elsewhere (the gateway reads it in its rate-limit round trip): raise
        :class:`DailyLimitExceeded` if ``count + 1 > limit``; an unknown count (Redis unavailable) is zero."""
        if (count or 0) + 1 > limit:
            raise DailyLimitExceeded(kind, limit)

    # -- atomic gate used at acceptance time ------------------------------------------------------------------

    async def reserve(
        self,
        service_id: uuid.UUID,
        channel: str,
        limit: int,
        *,
        international_limit: int | None = None,
        amount: int = 1,
        store: tuple[str, bytes, int] | None = None,
    ) -> Reservation:
        """Atomically take ``amount`` slots (one per notification; a CSV job takes all its rows at once) of
        today's ``channel`` counter, or raise :class:`DailyLimitExceeded` and take none.

        For an international text pass ``channel="sms"`` and ``international_limit``: both the ``sms`` and the
        ``international_sms`` counters are checked and incremented together (all or nothing; ``sms`` is
        reported first if both are full). Redis unavailable → an uncounted reservation (allowed).

        ``store`` (key, value, expiry in seconds) is SET in the same exchange if, and only if, the reservation is
        taken, and deleted again by :meth:`release` (the gateway keeps the accepted notification this way). When
        Redis is unavailable nothing is stored.
        """
        kinds = [channel]
        limits = [limit]
        if international_limit is not None:
            if channel != "sms":
                raise ValueError("international_limit only applies to the sms channel")
            kinds.append(INTERNATIONAL_SMS)
            limits.append(international_limit)
        day = self.today()
        keys = [self.counter_key(service_id, kind, day) for kind in kinds]
        extra: list[object] = []
        if store is not None:
            extra = [store[1], store[2]]
        result = await self._call(
            self._script,
            _RESERVE,
            keys + ([store[0]] if store is not None else []),
            [COUNTER_TTL_SECONDS, amount, len(keys), *limits, *extra],
            op="reserve",
            service_id=service_id,
            kind=channel,
        )
        if result is _FAILED:  # counts read as zero, as in check()
            for kind, kind_limit in zip(kinds, limits, strict=True):
                if amount > kind_limit:
                    raise DailyLimitExceeded(kind, kind_limit)
            return Reservation(service_id, day, tuple(kinds), tuple(keys), counted=False, amount=amount)
        if int(result[0]) != 1:  # type: ignore[index]
            index = int(result[1]) - 1  # type: ignore[index]
            raise DailyLimitExceeded(kinds[index], limits[index])
        return Reservation(
            service_id,
            day,
            tuple(kinds),
            tuple(keys),
            counted=True,
            amount=amount,
            stored_key=store[0] if store is not None else None,
        )

    async def release(self, token: Reservation) -> None:
        """Give back a reservation whose notification was not accepted (e.g. the publish failed). Idempotent."""
        if token.released or not token.counted:
            token.released = True
            return
        token.released = True
        await self._call(
            self._script,
            _RELEASE,
            list(token.keys) + ([token.stored_key] if token.stored_key else []),
            [token.amount, len(token.keys)],
            op="release",
            service_id=token.service_id,
            kind=token.kinds[0],
        )

    # -- unconditional counting -------------------------------------------------------------------------------

    async def record(self, service_id: uuid.UUID, channel: str, *, international: bool = False) -> None:
        """Increment today's ``channel`` counter (and ``international_sms`` for an international text) without
        checking the limit: for sends already checked as a whole (e.g. CSV job rows). The API send path uses
        :meth:`reserve` instead. Redis unavailable → ignored (warning)."""
        kinds = [channel]
        if international:
            if channel != "sms":
                raise ValueError("international only applies to the sms channel")
            kinds.append(INTERNATIONAL_SMS)
        day = self.today()
        keys = [self.counter_key(service_id, kind, day) for kind in kinds]
        await self._call(
            self._script,
            _RECORD,
            keys,
            [COUNTER_TTL_SECONDS],
            op="record",
            service_id=service_id,
            kind=channel,
        )

    async def count(self, service_id: uuid.UUID, channel: str) -> int:
        """Today's count for ``channel`` (Redis unavailable → 0, as Notify reads it)."""
        key = self.counter_key(service_id, channel)
        value = await self._call(self._redis.get, key, op="count", service_id=service_id, kind=channel)
        return 0 if value is _FAILED or value is None else int(value)

    # -- Redis plumbing ---------------------------------------------------------------------------------------

    async def _call(
        self, fn: Callable[..., object], *args: object, op: str, service_id: uuid.UUID, kind: str
    ) -> object:
        """Run one Redis exchange under the timeout; on failure warn, start the back-off, return ``_FAILED``."""
        if self._open_until and time.monotonic() < self._open_until:
            return _FAILED
        try:
            async with asyncio.timeout(self._timeout):
                result = await fn(*args)  # type: ignore[misc]
        except (RedisError, OSError, TimeoutError) as exc:
            # A client-side pool exhaustion says nothing about Redis itself: do not open for everyone.
            if self._backoff > 0 and not isinstance(exc, MaxConnectionsError):
                self._open_until = time.monotonic() + self._backoff
            _log.warning(
                "daily_limits.redis_unavailable",
                error=type(exc).__name__,
                op=op,
                service_id=str(service_id),
                kind=kind,
            )
            return _FAILED
        self._open_until = 0.0
        return result

    async def _script(self, script: str, keys: Sequence[str], args: Sequence[object]) -> object:
        sha = _SHAS[script]
        try:
            return await self._redis.evalsha(sha, len(keys), *keys, *args)
        except NoScriptError:
            # First use on this Redis (or its script cache was flushed): load once, then run by hash again.
            await self._redis.script_load(script)
            return await self._redis.evalsha(sha, len(keys), *keys, *args)


class _Failed:
    def __repr__(self) -> str:
        return "<redis unavailable>"


_FAILED = _Failed()
