"""When a letter is expected to arrive (behaviour.md §8): the ``estimated_delivery`` of the v2 GET responses.

1. The creation time is read in London time and moved on by 6 h 30 min, so a letter created at or after the
   17:30 print cut-off belongs to the next day (the "processing day").
2. It is printed on the first printer working day after the processing day (Monday to Friday, not an England &
   Wales bank holiday).
3. It is delivered ``1 + transit`` Royal Mail working days after the print day. Royal Mail working days are Monday
   to Saturday for first class and Monday to Friday for every other postage, never a bank holiday.
4. The expected time is 16:00 London time on that day, given in UTC.

Bank holidays come from the ``holidays`` package (GB, England). Only weekday dates count: a holiday that falls on
a weekend is replaced by a weekday substitute, which the package lists as well, and the weekend date itself is not a
bank holiday (the published England & Wales list only holds weekdays). So a Saturday Christmas Day does not stop a
first-class Saturday delivery, while the Monday and Tuesday substitutes stop everything.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

import holidays

__all__ = [
    "DATETIME_FORMAT",
    "LONDON",
    "TRANSIT_DAYS",
    "Postage",
    "delivery_window",
    "estimated_delivery",
    "is_bank_holiday",
    "latest_delivery",
    "print_day",
]

Postage = Literal["first", "second", "economy", "europe", "rest-of-world"]

LONDON = ZoneInfo("Europe/London")
DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
PROCESSING_SHIFT = timedelta(hours=6, minutes=30)  # 17:30 + 6:30 = midnight: later letters go to the next day
DELIVERY_TIME = time(16, 0)

# (min, max) whole days in transit after the day following printing.
TRANSIT_DAYS: dict[str, tuple[int, int]] = {
    "first": (0, 0),
    "second": (3, 4),
    "economy": (3, 6),
    "europe": (3, 5),
    "rest-of-world": (5, 7),
}
SATURDAY_DELIVERY = frozenset({"first"})


@lru_cache(maxsize=64)
def _bank_holidays(year: int) -> frozenset[date]:
    calendar = holidays.country_holidays("GB", subdiv="ENG", years=year)
    return frozenset(d for d in calendar if d.year == year and d.weekday() < 5)


def is_bank_holiday(day: date) -> bool:
    """Whether ``day`` is an England & Wales bank holiday (weekdays only, substitute days included)."""
    return day in _bank_holidays(day.year)


def _is_printer_working_day(day: date) -> bool:
    return day.weekday() < 5 and not is_bank_holiday(day)


def _is_royal_mail_working_day(day: date, postage: str) -> bool:
    last_working_weekday = 5 if postage in SATURDAY_DELIVERY else 4
    return day.weekday() <= last_working_weekday and not is_bank_holiday(day)


def _next(day: date, working: Callable[[date], bool]) -> date:
    day += timedelta(days=1)
    while not working(day):
        day += timedelta(days=1)
    return day


def _as_utc(created_at: datetime | str) -> datetime:
    if isinstance(created_at, str):
        created_at = datetime.fromisoformat(created_at)
    if created_at.tzinfo is None:  # stored timestamps are UTC
        created_at = created_at.replace(tzinfo=UTC)
    return created_at.astimezone(UTC)


def print_day(created_at: datetime | str) -> date:
    """The day the letter is printed: the next printer working day after its processing day."""
    local = _as_utc(created_at).astimezone(LONDON).replace(tzinfo=None)
    processing_day = (local + PROCESSING_SHIFT).date()
    return _next(processing_day, _is_printer_working_day)


def _delivery_day(printed: date, postage: str, transit: int) -> date:
    day = printed
    for _ in range(1 + transit):
        day = _next(day, lambda d: _is_royal_mail_working_day(d, postage))
    return day


def _at_delivery_time(day: date) -> datetime:
    return datetime.combine(day, DELIVERY_TIME, tzinfo=LONDON).astimezone(UTC)


def delivery_window(created_at: datetime | str, postage: str) -> tuple[datetime, datetime]:
    """Earliest and latest expected delivery (16:00 London time, as aware UTC datetimes).

    ``created_at``: an aware datetime, a naive UTC one, or an ISO 8601 string (``...Z`` accepted).
    Raises ``ValueError`` for an unknown postage.
    """
    try:
        shortest, longest = TRANSIT_DAYS[postage]
    except KeyError:
        raise ValueError(f"unknown postage {postage!r}") from None
    printed = print_day(created_at)
    return (
        _at_delivery_time(_delivery_day(printed, postage, shortest)),
        _at_delivery_time(_delivery_day(printed, postage, longest)),
    )


def latest_delivery(created_at: datetime | str, postage: str) -> datetime:
    """The latest expected delivery (aware, UTC)."""
    return delivery_window(created_at, postage)[1]


def estimated_delivery(created_at: datetime | str, postage: str | None) -> str | None:
    """``estimated_delivery`` as the API shows it (``YYYY-MM-DDTHH:MM:SS.ffffffZ``); ``None`` without a known
    postage."""
    if postage not in TRANSIT_DAYS:
        return None
    return latest_delivery(created_at, postage).strftime(DATETIME_FORMAT)
