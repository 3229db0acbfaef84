"""Choosing an SMS provider by priority, and the rules that move priorities (behaviour.md §10).

Each provider has an integer priority 0-100. A message goes to one of the active providers that can take it
(international texts only to providers that support them), chosen at random weighted by priority; a lone
candidate gets every message whatever its priority. Priorities move in steps: away from a provider that fails
too often or delivers too slowly (and towards the other one), and back towards their resting points once nothing
has changed for a while.

The rules are given the providers as they are now (read under a row lock by the caller) and the database's clock,
and return the changes to make; an empty list means "leave them alone".
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

MIN_PRIORITY, MAX_PRIORITY = 0, 100


@dataclass(frozen=True)
class ProviderPriority:
    name: str
    priority: int
    active: bool = True
    supports_international: bool = False
    updated_at: datetime | None = None  # None: never changed since it was first stored


@dataclass(frozen=True)
class Change:
    name: str
    previous: int
    priority: int


@dataclass(frozen=True)
class DeliveryStats:
    """A provider's texts created in the slow-check window that were delivered or are still awaited."""

    total: int
    slow: int  # delivered later than the slow threshold after sending, or still awaited beyond it


@dataclass(frozen=True)
class Rules:
    """Thresholds of the failover rules; the defaults are Notify's."""

    step: int = 10
    error_threshold: int = 50  # more failures than this ...
    error_window: timedelta = timedelta(seconds=60)  # ... within this window move priority away
    error_guard: timedelta = timedelta(seconds=60)  # unless either provider changed this recently
    slow_created_within: timedelta = timedelta(minutes=15)
    slow_delivery: timedelta = timedelta(minutes=5)
    slow_fraction: float = 0.15
    slow_guard: timedelta = timedelta(minutes=5)
    drift_quiet: timedelta = timedelta(minutes=15)


def clamp(priority: int) -> int:
    return max(MIN_PRIORITY, min(MAX_PRIORITY, priority))


def weights(providers: Iterable[ProviderPriority], *, international: bool) -> dict[str, int]:
    """The weight of each provider that can take a message: its priority, or 100 if it is the only one."""
    candidates = [p for p in providers if p.active and (p.supports_international or not international)]
    if len(candidates) == 1:
        return {candidates[0].name: MAX_PRIORITY}
    return {p.name: p.priority for p in candidates}


def choose(providers: Iterable[ProviderPriority], *, international: bool, rng: random.Random) -> str | None:
    """The provider for one message, or None if no active provider can take it."""
    by_name = weights(providers, international=international)
    if not by_name:
        return None
    names = list(by_name)
    if not any(by_name.values()):
        # Every candidate set to 0 (by hand): spread the messages rather than send none.
        return rng.choice(names)
    return rng.choices(names, weights=[by_name[n] for n in names])[0]


def changed_within(providers: Iterable[ProviderPriority], now: datetime, period: timedelta) -> bool:
    return any(p.updated_at is not None and p.updated_at > now - period for p in providers)


def _changes(moves: Iterable[tuple[ProviderPriority, int]]) -> list[Change]:
    return [Change(p.name, p.priority, new) for p, new in moves if new != p.priority]


def shift_away(providers: Mapping[str, ProviderPriority], name: str, *, step: int) -> list[Change]:
    """Lower ``name`` by ``step`` and raise the other active provider by ``step``, each kept within 0-100.

    Nothing moves unless ``name`` is active and there is exactly one other active provider to take its share.
    """
    reduced = providers.get(name)
    others = [p for p in providers.values() if p.active and p.name != name]
    if reduced is None or not reduced.active or len(others) != 1:
        return []
    other = others[0]
    return _changes([(reduced, clamp(reduced.priority - step)), (other, clamp(other.priority + step))])


def on_errors(
    providers: Mapping[str, ProviderPriority], name: str, *, errors: int, now: datetime, rules: Rules
) -> list[Change]:
    """``errors`` failures of ``name`` in the error window: more than the threshold moves priority away from it,
    unless either provider changed within the error guard."""
    if errors <= rules.error_threshold or changed_within(providers.values(), now, rules.error_guard):
        return []
    return shift_away(providers, name, step=rules.step)


def slow_providers(stats: Mapping[str, DeliveryStats], *, fraction: float) -> set[str]:
    """Providers with at least ``fraction`` of their texts slow (none when they sent nothing)."""
    return {name for name, s in stats.items() if s.total and s.slow / s.total >= fraction}


def on_slow_delivery(
    providers: Mapping[str, ProviderPriority], slow: set[str], *, now: datetime, rules: Rules
) -> list[Change]:
    """One provider slow and the other not: move priority away from the slow one (unless either changed within the
    slow guard). Both slow, or neither: nothing changes."""
    active = {p.name for p in providers.values() if p.active}
    slow_active = slow & active
    if len(active) != 2 or len(slow_active) != 1:
        return []
    if changed_within(providers.values(), now, rules.slow_guard):
        return []
    return shift_away(providers, next(iter(slow_active)), step=rules.step)


def drift_back(
    providers: Mapping[str, ProviderPriority], resting: Mapping[str, int], *, now: datetime, rules: Rules
) -> list[Change]:
    """If nothing changed within the quiet period, each active provider moves ``step`` towards its resting point
    (never past it)."""
    if changed_within(providers.values(), now, rules.drift_quiet):
        return []
    moves = []
    for p in providers.values():
        target = resting.get(p.name)
        if not p.active or target is None:
            continue
        if p.priority > target:
            moves.append((p, max(target, p.priority - rules.step)))
        elif p.priority < target:
            moves.append((p, min(target, p.priority + rules.step)))
    return _changes(moves)


def applied(
    providers: Mapping[str, ProviderPriority], changes: Iterable[Change], *, now: datetime
) -> dict[str, ProviderPriority]:
    """The providers after ``changes`` (for the caller's own view until its next read)."""
    result = dict(providers)
    for change in changes:
        result[change.name] = replace(result[change.name], priority=change.priority, updated_at=now)
    return result
