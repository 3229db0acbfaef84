"""Notification statistics as the admin shows them (admin-api.md §4.3): requested, delivered and failed per channel."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

CHANNELS = ("sms", "email", "letter")
LONDON = ZoneInfo("Europe/London")
DELIVERED = frozenset({"delivered", "sent"})
FAILED = frozenset(
    {
        "failed",
        "technical-failure",
        "temporary-failure",
        "permanent-failure",
        "validation-failed",
        "virus-scan-failed",
    }
)
NOT_REQUESTED = frozenset({"cancelled"})


def empty() -> dict[str, dict[str, int]]:
    return {channel: {"requested": 0, "delivered": 0, "failed": 0} for channel in CHANNELS}


def summarise(rows: Iterable[tuple[str, str, int]]) -> dict[str, dict[str, int]]:
    """``(channel, status, count)`` rows → ``{channel: {requested, delivered, failed}}``, every channel present."""
    stats = empty()
    for channel, status, count in rows:
        if channel not in stats or status in NOT_REQUESTED:
            continue
        stats[channel]["requested"] += count
        if status in DELIVERED:
            stats[channel]["delivered"] += count
        elif status in FAILED:
            stats[channel]["failed"] += count
    return stats


def monthly(
    rows: Iterable[tuple[str, str, str, int]], months: list[str]
) -> dict[str, dict[str, dict[str, int]]]:
    """``(month, channel, status, count)`` rows → ``{month: {channel: {...}}}`` for each month listed.

    Each channel carries the seed's ``requested``/``delivered``/``failed`` and, beside them, the count of every raw
    status (the reference's shape). Where a raw status has the same name as a summary (``delivered``, ``failed``)
    the summary wins, as the seed documents it.
    """
    by_month: dict[str, list[tuple[str, str, int]]] = {m: [] for m in months}
    for month, channel, status, count in rows:
        if month in by_month:
            by_month[month].append((channel, status, count))
    result: dict[str, dict[str, dict[str, int]]] = {}
    for month, month_rows in by_month.items():
        raw: dict[str, dict[str, int]] = {c: {} for c in CHANNELS}
        for channel, status, count in month_rows:
            if channel in raw:
                raw[channel][status] = raw[channel].get(status, 0) + count
        summary = summarise(month_rows)
        result[month] = {c: {**raw[c], **summary[c]} for c in CHANNELS}
    return result


def financial_year_months(year: int, today: date) -> list[str]:
    """``YYYY-MM`` for each month of the financial year starting in April ``year`` that has started by ``today``."""
    months = []
    for i in range(12):
        y, m = (year, 4 + i) if i < 9 else (year + 1, i - 8)
        if date(y, m, 1) <= today:
            months.append(f"{y:04d}-{m:02d}")
    return months


def financial_year_bounds(year: int) -> tuple[datetime, datetime]:
    """Start (1 April, London midnight) and end (1 April next year) of a financial year, as aware datetimes."""
    return (
        datetime.combine(date(year, 4, 1), time(), LONDON),
        datetime.combine(date(year + 1, 4, 1), time(), LONDON),
    )


def window_start(today: date, *, today_only: bool, limit_days: int) -> datetime:
    """Start of the statistics window: London midnight today, or ``limit_days`` days before it."""
    first = today if today_only else today - timedelta(days=limit_days)
    return datetime.combine(first, time(), LONDON)
