"""CPU time spent by each part of the platform during a measurement, read from ``/proc`` (Linux): the stack's own
processes by name, and RabbitMQ, Postgres and Redis by their process names. Used to show where a machine-bound
figure's CPU went (milliseconds of CPU per message, per process)."""

from __future__ import annotations

import os
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
INFRA = {"beam.smp": "rabbitmq", "postgres": "postgres", "redis-server": "redis"}


def _stat(stat: str) -> tuple[str, int, float]:
    """(command name, parent pid, CPU seconds: utime + stime) from a ``/proc/<pid>/stat`` line."""
    comm = stat[stat.index("(") + 1 : stat.rindex(")")]
    fields = stat[stat.rindex(")") + 2 :].split()
    return comm, int(fields[1]), (int(fields[11]) + int(fields[12])) / TICKS


def snapshot(named_pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far: of each named pid with its descendants (a render pool's workers count for the service
    that started them), and of every RabbitMQ / Postgres / Redis process summed."""
    by_pid = {pid: name for name, pid in named_pids.items()}
    procs: dict[int, tuple[str, int, float]] = {}
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else ():
        if entry.name.isdigit():
            try:
                procs[int(entry.name)] = _stat((entry / "stat").read_text())
            except (OSError, ValueError, IndexError):
                continue  # gone while we looked

    def owner(pid: int) -> str | None:
        seen = 0
        while pid in procs and seen < 64:
            if pid in by_pid:
                return by_pid[pid]
            pid, seen = procs[pid][1], seen + 1
        return None

    totals: dict[str, float] = {}
    for pid, (comm, _, seconds) in procs.items():
        name = owner(pid) or INFRA.get(comm)
        if name is not None:
            totals[name] = totals.get(name, 0.0) + seconds
    return totals


def spent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {
        name: after[name] - before.get(name, 0.0) for name in after if after[name] - before.get(name, 0.0) > 0
    }
