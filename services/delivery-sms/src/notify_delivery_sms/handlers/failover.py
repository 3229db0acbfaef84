"""Provider failover (behaviour.md §10): priorities kept in Postgres, shared by every replica, moved by rules.

* Failed sends are counted per provider and second in the database, so every replica's failures add up. A
  process gathers its own failures while a count is being written, so a burst costs a few round trips rather than
  one per failure; the error rule is judged right after each count.
* The slow-delivery check and the drift back to resting points run on a timer in every consumer process. A
  transaction-scoped advisory lock lets one replica at a time run each; the "not if changed recently" guards,
  read under the row locks, make a run that follows another replica's change a no-op.
* Every change locks the provider rows (in name order), is recorded in the history with its reason and is applied
  to this process's pool at once; other processes pick it up at their next refresh (every few seconds).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from notify_platform.db import Database
from notify_platform.logging import get_logger
from prometheus_client import Counter as MetricCounter
from prometheus_client import Gauge
from sqlalchemy.engine import Connection

from ..adapters import failover as store
from ..domain.priorities import (
    Change,
    ProviderPriority,
    Rules,
    applied,
    drift_back,
    on_errors,
    on_slow_delivery,
    slow_providers,
)
from .send import ProviderPool

log = get_logger(__name__)

PRIORITY = Gauge(
    "notify_sms_provider_priority", "Priority of an SMS provider (0 when inactive)", ["provider"]
)
SEND_FAILURES = MetricCounter(
    "notify_sms_provider_failures_total", "Failed sends counted against a provider", ["provider"]
)
CHANGES = MetricCounter(
    "notify_sms_provider_priority_changes_total", "Priority changes by reason", ["provider", "reason"]
)

T = TypeVar("T")
Providers = dict[str, ProviderPriority]
# A rule: given the locked providers and the database's clock, the changes to make and why.
Rule = Callable[[Connection, Providers, datetime], tuple[list[Change], str]]

# Advisory lock keys, unique within delivery-sms's own database.
SLOW_CHECK_LOCK = 0x534D_5301
DRIFT_LOCK = 0x534D_5302
# Error counts older than this are deleted by the slow check (the error window itself is a minute by default).
ERROR_COUNTS_KEPT = timedelta(minutes=10)


class Failover:
    def __init__(
        self,
        db: Database,
        pool: ProviderPool,
        *,
        resting: Mapping[str, int],
        international: Mapping[str, bool],
        rules: Rules,
    ) -> None:
        self.db = db
        self.pool = pool
        self.resting = dict(resting)
        self.international = dict(international)  # the configured providers: name -> supports international
        self.rules = rules
        self._stored = False  # the configured providers' rows exist
        self._pending: Counter[str] = Counter()
        self._flushing: asyncio.Task[None] | None = None

    # -- priorities ---------------------------------------------------------------------------------------------

    async def _transaction(self, fn: Callable[[Connection], T]) -> T:
        """``fn`` in one transaction, the configured providers stored first (until that has once succeeded)."""

        def work(conn: Connection) -> T:
            if not self._stored:
                store.ensure(conn, self.resting)
            return fn(conn)

        result = await self.db.transaction(work)
        self._stored = True
        return result

    async def refresh(self) -> dict[str, ProviderPriority]:
        """Read the priorities into this process's pool."""
        providers = await self._transaction(lambda conn: store.load(conn, self.international))
        self._use(providers)
        return providers

    def _use(self, providers: Mapping[str, ProviderPriority]) -> None:
        self.pool.update(providers)
        for p in providers.values():
            PRIORITY.labels(provider=p.name).set(p.priority if p.active else 0)

    async def _judge(self, rule: Rule, *, reason: str, exclusive: int | None = None) -> list[Change]:
        """Lock the provider rows, let ``rule`` decide, save and record what it changed: one transaction.

        With ``exclusive`` (an advisory lock key) nothing is done while another replica holds that key.
        """

        def work(conn: Connection) -> tuple[dict[str, ProviderPriority], list[Change], str, Any]:
            if exclusive is not None and not store.try_lock(conn, exclusive):
                return {}, [], "", None
            providers = store.load(conn, self.international, lock=True)
            now = store.database_now(conn)
            changes, detail = rule(conn, providers, now)
            store.save(conn, providers, changes, reason=reason, detail=detail)
            return providers, changes, detail, now

        providers, changes, detail, now = await self._transaction(work)
        for c in changes:
            CHANGES.labels(provider=c.name, reason=reason).inc()
            log.warning(
                "delivery.sms.priority_changed",
                provider=c.name,
                previous_priority=c.previous,
                priority=c.priority,
                reason=reason,
                detail=detail,
            )
        if changes:
            self._use(applied(providers, changes, now=now))
        return changes

    # -- the error rule -----------------------------------------------------------------------------------------

    def record_failure(self, provider: str) -> None:
        """Count a failed send at ``provider`` (never blocks the send path; written and judged in the background)."""
        SEND_FAILURES.labels(provider=provider).inc()
        self._pending[provider] += 1
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        while self._pending:
            pending, self._pending = self._pending, Counter()
            for provider, count in pending.items():
                try:
                    await self.count_failures(provider, count)
                except Exception as exc:  # counting must never break sending; the next failure counts again
                    log.warning(
                        "delivery.sms.failure_count_failed",
                        provider=provider,
                        failures=count,
                        error=type(exc).__name__,
                    )

    async def count_failures(self, provider: str, count: int) -> list[Change]:
        """Add ``count`` failures of ``provider`` and apply the error rule to the total within the window."""
        rules = self.rules
        window = rules.error_window
        errors = await self.db.transaction(
            lambda conn: store.add_errors(conn, provider, count, window=window)
        )
        if errors <= rules.error_threshold:
            return []

        def rule(conn: Connection, providers: Providers, now: datetime) -> tuple[list[Change], str]:
            detail = f"{errors} failed sends at {provider} within {window.total_seconds():g}s"
            return on_errors(providers, provider, errors=errors, now=now, rules=rules), detail

        return await self._judge(rule, reason="errors")

    async def close(self) -> None:
        """Write the failures still being counted (at shutdown, while the database is still open)."""
        if self._flushing is not None and not self._flushing.done():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._flushing), 5)

    # -- the timed rules ----------------------------------------------------------------------------------------

    async def check_slow(self) -> list[Change]:
        """The slow-delivery rule, unless another replica is running it right now."""
        rules = self.rules

        def rule(conn: Connection, providers: Providers, now: datetime) -> tuple[list[Change], str]:
            stats = store.delivery_stats(
                conn, providers, created_within=rules.slow_created_within, slow_after=rules.slow_delivery
            )
            slow = slow_providers(stats, fraction=rules.slow_fraction)
            detail = ", ".join(f"{n}: {stats[n].slow} of {stats[n].total} slow" for n in sorted(stats))
            if slow:
                log.warning("delivery.sms.providers_slow", providers=sorted(slow), detail=detail)
            return on_slow_delivery(providers, slow, now=now, rules=rules), detail

        changes = await self._judge(rule, reason="slow", exclusive=SLOW_CHECK_LOCK)
        await self.db.transaction(lambda conn: store.forget_errors(conn, older_than=ERROR_COUNTS_KEPT))
        return changes

    async def drift(self) -> list[Change]:
        """The drift back to resting points, unless another replica is running it right now."""
        rules = self.rules

        def rule(conn: Connection, providers: Providers, now: datetime) -> tuple[list[Change], str]:
            changes = drift_back(providers, self.resting, now=now, rules=rules)
            return changes, f"towards resting points after {rules.drift_quiet.total_seconds():g}s unchanged"

        return await self._judge(rule, reason="drift", exclusive=DRIFT_LOCK)

    # -- by hand ------------------------------------------------------------------------------------------------

    async def set_by_hand(
        self, name: str, *, priority: int, active: bool | None = None
    ) -> ProviderPriority | None:
        """An admin's setting for one provider (None if it is not configured), recorded as ``manual``."""
        if name not in self.international:
            return None

        def work(conn: Connection) -> dict[str, ProviderPriority]:
            providers = store.load(conn, self.international, lock=True)
            current = providers[name]
            now_active = current.active if active is None else active
            store.set_by_hand(conn, current, priority=priority, active=now_active)
            now = store.database_now(conn)
            return {**providers, name: replace(current, priority=priority, active=now_active, updated_at=now)}

        providers = await self._transaction(work)
        log.warning("delivery.sms.priority_set_by_hand", provider=name, priority=priority, active=active)
        CHANGES.labels(provider=name, reason="manual").inc()
        self._use(providers)
        return providers[name]

    async def overview(
        self, *, history_limit: int
    ) -> tuple[dict[str, ProviderPriority], list[dict[str, Any]]]:
        def read(conn: Connection) -> tuple[dict[str, ProviderPriority], list[dict[str, Any]]]:
            return store.load(conn, self.international), store.history(conn, limit=history_limit)

        return await self._transaction(read)

    # -- background loops (consumer processes) -----------------------------------------------------------------

    async def keep_fresh(self, interval: float) -> None:
        while True:
            try:
                await self.refresh()
            except Exception as exc:  # keep choosing by the last priorities read
                log.warning("delivery.sms.priorities_refresh_failed", error=type(exc).__name__)
            await asyncio.sleep(interval)


async def every(interval: float, job: Callable[[], Awaitable[object]], *, name: str) -> None:
    """Run ``job`` every ``interval`` seconds, for ever; a failed run is logged and the next one goes ahead."""
    while True:
        await asyncio.sleep(interval)
        try:
            await job()
        except Exception:
            log.exception("delivery.sms.failover_check_failed", check=name)
