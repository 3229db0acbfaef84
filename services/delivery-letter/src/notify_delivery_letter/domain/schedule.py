"""When letters are collected into print batches (behaviour.md §8).

Daily mode (production): at the batch time (17:50 London) on printer working days, every letter created before
that day's cut-off (17:30 London) and ready is collected, once per day. A letter created at or after the cut-off,
or not ready when the batch is collected, waits for the next printer working day. Printer working days are Monday to
Friday, less the configured holidays (England and Wales bank holidays are configuration here: see the settings).

Interval mode (development and tests): every N seconds, every ready letter is collected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")
DAILY_POLL_SECONDS = 30.0


@dataclass(frozen=True)
class PrintRun:
    """One collection: letters created before ``cutoff`` go to print. ``print_day`` (daily mode) is the day it
    belongs to, so that it happens once per day whatever the number of replicas."""

    cutoff: datetime
    print_day: date | None = None


@dataclass(frozen=True)
class BatchSchedule:
    cutoff: time = time(17, 30)
    batch_time: time = time(17, 50)
    interval_seconds: float | None = None
    holidays: frozenset[date] = field(default_factory=frozenset)

    def is_printer_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self.holidays

    def due_run(self, now: datetime) -> PrintRun | None:
        """The collection due at ``now`` (an aware datetime), if any. In daily mode a run stays due for the rest
        of its day (a scheduler that was down at 17:50 catches up later), with that day's cut-off."""
        if self.interval_seconds is not None:
            return PrintRun(cutoff=now)
        local = now.astimezone(LONDON)
        if not self.is_printer_working_day(local.date()) or local.time() < self.batch_time:
            return None
        return PrintRun(
            cutoff=datetime.combine(local.date(), self.cutoff, tzinfo=LONDON), print_day=local.date()
        )

    def seconds_to_wait(self, now: datetime) -> float:
        """How long a scheduler may sleep before asking ``due_run`` again."""
        if self.interval_seconds is not None:
            return self.interval_seconds
        local = now.astimezone(LONDON)
        next_batch = datetime.combine(local.date(), self.batch_time, tzinfo=LONDON)
        if next_batch <= local:
            next_batch += timedelta(days=1)
        return max(0.1, min(DAILY_POLL_SECONDS, (next_batch - local).total_seconds()))
