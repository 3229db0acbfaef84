"""The pure failover rules (behaviour.md §10): weighted choice, the error, slow and drift rules, clamping, guards."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from notify_delivery_sms.domain.priorities import (
    Change,
    DeliveryStats,
    ProviderPriority,
    Rules,
    applied,
    choose,
    drift_back,
    on_errors,
    on_slow_delivery,
    shift_away,
    slow_providers,
    weights,
)
from notify_delivery_sms.settings import Settings

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
RULES = Rules()
RESTING = {"mmg": 51, "firetext": 49}


def pair(
    mmg: int = 51,
    firetext: int = 49,
    *,
    mmg_changed: timedelta | None = None,
    firetext_changed: timedelta | None = None,
    mmg_active: bool = True,
    firetext_active: bool = True,
) -> dict[str, ProviderPriority]:
    """Both providers; ``*_changed``: how long ago that provider last changed (None: never)."""
    return {
        "mmg": ProviderPriority(
            "mmg",
            mmg,
            active=mmg_active,
            supports_international=True,
            updated_at=None if mmg_changed is None else NOW - mmg_changed,
        ),
        "firetext": ProviderPriority(
            "firetext",
            firetext,
            active=firetext_active,
            supports_international=False,
            updated_at=None if firetext_changed is None else NOW - firetext_changed,
        ),
    }


def moved(changes: list[Change]) -> dict[str, tuple[int, int]]:
    """Each change as provider -> (previous, new priority)."""
    return {c.name: (c.previous, c.priority) for c in changes}


def shares(
    providers: dict[str, ProviderPriority], *, international: bool = False, n: int = 20_000
) -> Counter:
    rng = random.Random(20260302)
    return Counter(choose(providers.values(), international=international, rng=rng) for _ in range(n))


# -- choosing ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("mmg", "firetext"), [(51, 49), (80, 20), (10, 90)])
def test_texts_are_shared_in_proportion_to_priority(mmg: int, firetext: int) -> None:
    counts = shares(pair(mmg, firetext))
    assert counts["mmg"] / 20_000 == pytest.approx(mmg / 100, abs=0.015)
    assert counts["firetext"] / 20_000 == pytest.approx(firetext / 100, abs=0.015)


def test_a_provider_at_zero_gets_nothing() -> None:
    assert shares(pair(0, 100)) == Counter({"firetext": 20_000})


def test_the_only_active_provider_gets_every_text_whatever_its_priority() -> None:
    providers = pair(0, 100, firetext_active=False)
    assert weights(providers.values(), international=False) == {"mmg": 100}
    assert shares(providers) == Counter({"mmg": 20_000})


def test_international_texts_only_go_to_providers_that_support_them() -> None:
    providers = pair(10, 90)  # firetext does not support international texts here
    assert weights(providers.values(), international=True) == {"mmg": 100}
    assert shares(providers, international=True) == Counter({"mmg": 20_000})
    # UK texts still follow the priorities.
    assert shares(providers)["firetext"] / 20_000 == pytest.approx(0.9, abs=0.015)


def test_no_provider_for_international_texts_when_none_that_supports_them_is_active() -> None:
    providers = pair(mmg_active=False)
    assert choose(providers.values(), international=True, rng=random.Random(1)) is None
    assert choose(providers.values(), international=False, rng=random.Random(1)) == "firetext"


def test_every_candidate_at_zero_shares_texts_evenly_rather_than_sending_none() -> None:
    counts = shares(pair(0, 0))
    assert counts["mmg"] / 20_000 == pytest.approx(0.5, abs=0.015)


# -- errors --------------------------------------------------------------------------------------------------


def test_fifty_failures_in_the_window_change_nothing_fifty_one_move_ten_points() -> None:
    assert on_errors(pair(), "mmg", errors=50, now=NOW, rules=RULES) == []
    assert moved(on_errors(pair(), "mmg", errors=51, now=NOW, rules=RULES)) == {
        "mmg": (51, 41),
        "firetext": (49, 59),
    }
    assert moved(on_errors(pair(), "firetext", errors=51, now=NOW, rules=RULES)) == {
        "mmg": (51, 61),
        "firetext": (49, 39),
    }


@pytest.mark.parametrize("who", ["mmg", "firetext"])
def test_no_error_shift_if_either_provider_changed_within_the_last_minute(who: str) -> None:
    recently = pair(**{f"{who}_changed": timedelta(seconds=59)})  # type: ignore[arg-type]
    assert on_errors(recently, "mmg", errors=500, now=NOW, rules=RULES) == []
    a_while_ago = pair(**{f"{who}_changed": timedelta(seconds=61)})  # type: ignore[arg-type]
    assert on_errors(a_while_ago, "mmg", errors=500, now=NOW, rules=RULES) != []


def test_priorities_are_clamped_to_0_and_100() -> None:
    assert moved(shift_away(pair(5, 95), "mmg", step=10)) == {"mmg": (5, 0), "firetext": (95, 100)}
    assert shift_away(pair(0, 100), "mmg", step=10) == []
    assert moved(shift_away(pair(3, 92), "mmg", step=10)) == {"mmg": (3, 0), "firetext": (92, 100)}


def test_no_shift_when_the_other_provider_is_inactive() -> None:
    assert on_errors(pair(firetext_active=False), "mmg", errors=500, now=NOW, rules=RULES) == []


def test_the_thresholds_are_settings_with_notifys_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().failover_rules() == RULES
    assert RULES.error_threshold == 50 and RULES.error_window == timedelta(seconds=60)
    assert RULES.slow_fraction == 0.15 and RULES.slow_delivery == timedelta(minutes=5)
    assert Settings().resting_priorities() == RESTING
    monkeypatch.setenv("SMS_ERROR_THRESHOLD", "5")
    monkeypatch.setenv("SMS_ERROR_GUARD_SECONDS", "1")
    tuned = Settings().failover_rules()
    assert (tuned.error_threshold, tuned.error_guard) == (5, timedelta(seconds=1))


# -- slow delivery -------------------------------------------------------------------------------------------


def test_a_provider_is_slow_from_15_percent_of_its_texts() -> None:
    stats = {
        "mmg": DeliveryStats(total=20, slow=3),  # 15%
        "firetext": DeliveryStats(total=1000, slow=149),  # 14.9%
    }
    assert slow_providers(stats, fraction=RULES.slow_fraction) == {"mmg"}
    assert slow_providers({"mmg": DeliveryStats(0, 0)}, fraction=RULES.slow_fraction) == set()


def test_the_slow_provider_loses_ten_points_when_the_other_is_not_slow() -> None:
    assert moved(on_slow_delivery(pair(), {"firetext"}, now=NOW, rules=RULES)) == {
        "mmg": (51, 61),
        "firetext": (49, 39),
    }


def test_nothing_changes_when_both_are_slow_or_neither_is() -> None:
    assert on_slow_delivery(pair(), {"mmg", "firetext"}, now=NOW, rules=RULES) == []
    assert on_slow_delivery(pair(), set(), now=NOW, rules=RULES) == []


def test_no_slow_shift_if_either_changed_within_five_minutes() -> None:
    recent = pair(firetext_changed=timedelta(minutes=4, seconds=59))
    assert on_slow_delivery(recent, {"mmg"}, now=NOW, rules=RULES) == []
    older = pair(firetext_changed=timedelta(minutes=5, seconds=1))
    assert moved(on_slow_delivery(older, {"mmg"}, now=NOW, rules=RULES)) == {
        "mmg": (51, 41),
        "firetext": (49, 59),
    }


# -- drift back ----------------------------------------------------------------------------------------------


def test_after_15_quiet_minutes_each_moves_ten_points_towards_its_resting_point() -> None:
    quiet = pair(21, 79, mmg_changed=timedelta(minutes=16), firetext_changed=timedelta(minutes=16))
    assert moved(drift_back(quiet, RESTING, now=NOW, rules=RULES)) == {"mmg": (21, 31), "firetext": (79, 69)}


def test_drift_stops_at_the_resting_point_and_leaves_rested_providers_alone() -> None:
    near = pair(45, 55, mmg_changed=timedelta(hours=1))
    assert moved(drift_back(near, RESTING, now=NOW, rules=RULES)) == {"mmg": (45, 51), "firetext": (55, 49)}
    assert drift_back(pair(), RESTING, now=NOW, rules=RULES) == []


def test_no_drift_if_anything_changed_within_15_minutes() -> None:
    busy = pair(21, 79, mmg_changed=timedelta(hours=1), firetext_changed=timedelta(minutes=14))
    assert drift_back(busy, RESTING, now=NOW, rules=RULES) == []


def test_an_inactive_provider_does_not_drift() -> None:
    providers = pair(0, 100, mmg_active=False)
    assert moved(drift_back(providers, RESTING, now=NOW, rules=RULES)) == {"firetext": (100, 90)}


def test_applied_changes_mark_the_providers_changed_now() -> None:
    after = applied(pair(), [Change("mmg", 51, 41)], now=NOW)
    assert (after["mmg"].priority, after["mmg"].updated_at) == (41, NOW)
    assert after["firetext"] == pair()["firetext"]
