"""Letter rules owned by the notifications service: until when a letter may still be cancelled.

Printing starts at the 17:30 Europe/London cut-off (behaviour.md §8): a letter created before 17:30 can be cancelled
until 17:30 that day, one created later until 17:30 the next day. The print batch is collated after the cut-off, so
a letter that can still be cancelled has not gone to the printer.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")
PRINT_CUT_OFF = time(17, 30)
CANCELLABLE = frozenset({"created", "pending-virus-check"})


def cancel_deadline(created_at: datetime, cut_off: time = PRINT_CUT_OFF) -> datetime:
    """The moment printing starts for a letter created at ``created_at`` (an aware datetime, London time)."""
    local = created_at.astimezone(LONDON)
    day = local.date() if local.time() < cut_off else local.date() + timedelta(days=1)
    return datetime.combine(day, cut_off, tzinfo=LONDON)


def too_late_to_cancel(created_at: datetime, now: datetime, cut_off: time = PRINT_CUT_OFF) -> str | None:
    """None while the letter may be cancelled, else the admin error message (admin-api.md §9)."""
    deadline = cancel_deadline(created_at, cut_off)
    if now < deadline:
        return None
    return f"It’s too late to cancel this letter. Printing started {_day(deadline.date(), now)} at 5.30pm"


def _day(day: date, now: datetime) -> str:
    if day == now.astimezone(LONDON).date():
        return "today"
    return f"on {day.day} {day.strftime('%B')}"
