"""Resident memory of the stack's processes, sampled from ``/proc`` (Linux) while a run goes on: each service with
its descendants (a render pool's workers count for the service that started them)."""

from __future__ import annotations

import statistics
import threading
import time
from pathlib import Path


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            out += [int(c) for c in task.read_text().split()]
        except (OSError, ValueError):
            continue
    return out


def rss_mb(pid: int) -> float:
    """VmRSS of ``pid`` and its descendants, in MB (0 if it is gone)."""
    total_kb = 0
    todo = [pid]
    while todo:
        current = todo.pop()
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
                    break
        except (OSError, ValueError):
            continue
        todo += _children(current)
    return total_kb / 1024


class RssSampler:
    """Samples every named process's RSS every ``interval`` seconds on a thread until stopped."""

    def __init__(self, pids: dict[str, int], interval: float = 2.0) -> None:
        self.pids = pids
        self.interval = interval
        self.started = time.monotonic()
        self.samples: dict[str, list[tuple[float, float]]] = {name: [] for name in pids}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic() - self.started
            for name, pid in self.pids.items():
                self.samples[name].append((now, rss_mb(pid)))
            self._stop.wait(self.interval)

    def peak(self, name: str) -> float:
        return max((mb for _, mb in self.samples[name]), default=0.0)

    def median_between(self, name: str, start: float, end: float) -> float:
        values = [mb for t, mb in self.samples[name] if start <= t <= end]
        return statistics.median(values) if values else 0.0

    def series(self, name: str) -> list[tuple[int, int]]:
        """(second, MB) points, for the report's CSV."""
        return [(int(t), round(mb)) for t, mb in self.samples[name]]
