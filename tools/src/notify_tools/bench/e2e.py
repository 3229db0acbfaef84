"""End to end: ``n`` texts sent through the gateway until the last one is ``delivered`` in the notifications
database, then a soak at a steady rate until ``soak_seconds`` have passed since the first request, with every
process's resident memory sampled throughout.

The whole stack runs as ``make run`` runs it (every service, with the SMS simulators sending delivery receipts).
wrk sends at saturation until ``n`` requests have been answered; every one must be a 201. The run's figures come
from the notifications database: ``created_at`` of the first notification to the ``updated_at`` of the last to
reach its final status. The simulators' per-id counts then prove every accepted text reached a provider exactly
once. The soak offers half the sustained end-to-end rate with wrk's schedule, so the pipeline keeps up and memory
is read at a steady state: growth is the median RSS of the last minute against that of the minute around the
middle of the run.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from ..launcher import RunningStack, launch
from ..testing import Infra
from . import cpu
from .accept import PATH, prepare_sender, sms_body
from .delivery import _per_second, sustained
from .load import mint_tokens, run_wrk
from .memory import RssSampler
from .report import Row, Section

TITLE = "End to end: POST to delivered"
TARGET = 1_000.0
CONNECTIONS = 64
FINAL = ("delivered", "permanent-failure", "temporary-failure", "technical-failure")
SIMULATORS = ("sms-sim-mmg", "sms-sim-firetext")
GROWTH_MB = 10.0  # growth over the second half allowed as noise (and GROWTH_SHARE of the process's RSS)
GROWTH_SHARE = 0.10


def _counts(engine: Any, service_id: str) -> tuple[int, int]:
    """(this service's notifications, how many of them are final), in one query."""
    with engine.connect() as conn:
        total, final = conn.execute(
            text(
                "SELECT count(*), count(*) FILTER (WHERE status = ANY(:final)) FROM notifications "
                "WHERE service_id = :s"
            ),
            {"s": service_id, "final": list(FINAL)},
        ).one()
    return int(total), int(final)


def _wait_final(stack: RunningStack, engine: Any, service_id: str, n: int, timeout: float) -> int:
    """Wait until at least ``n`` notifications are final and every stored one is, twice a second apart (wrk stops
    with requests in flight that the gateway still accepts, so there can be a few more than wrk counted).
    Returns how many there are."""
    deadline = time.monotonic() + timeout
    settled = 0
    while True:
        total, done = _counts(engine, service_id)
        if done >= n and done == total:
            settled += 1
            if settled == 2:
                return done
        else:
            settled = 0
        if time.monotonic() > deadline:
            raise TimeoutError(f"{done} of {n} notifications final after {timeout:.0f}s")
        for name, (_, child) in stack.procs.items():
            if child.poll() is not None:
                raise RuntimeError(f"{name} exited:\n{stack.tail(name)}")
        time.sleep(1)


def _times(engine: Any, service_id: str) -> tuple[list[Any], list[Any], dict[str, int]]:
    """(created_at of every notification, updated_at of every final one, count by status)."""
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT created_at, updated_at, status FROM notifications WHERE service_id = :s"),
            {"s": service_id},
        ).all()
    statuses: dict[str, int] = {}
    for row in rows:
        statuses[row.status] = statuses.get(row.status, 0) + 1
    return (
        [row.created_at for row in rows],
        [row.updated_at for row in rows if row.status in FINAL and row.updated_at is not None],
        statuses,
    )


def _exactly_once(stack: RunningStack, engine: Any, service_id: str) -> tuple[int, int, int]:
    """(this service's notifications, how many no simulator received, how many were received more than once,
    counting both simulators together) from the simulators' per-id counts."""
    received: Counter[str] = Counter()
    for sim in SIMULATORS:
        stats = httpx.get(f"{stack.url(sim)}/stats", timeout=60).json()
        received.update({ref: int(count) for ref, count in stats["by_reference"].items()})
    with engine.connect() as conn:
        ids = [
            str(row[0])
            for row in conn.execute(
                text("SELECT id FROM notifications WHERE service_id = :s"), {"s": service_id}
            )
        ]
    lost = sum(1 for i in ids if received[i] == 0)
    repeated = sum(1 for i in ids if received[i] > 1)
    return len(ids), lost, repeated


def run(infra: Infra, log_dir: Path, *, n: int, soak_seconds: float) -> tuple[Section, float]:
    """The section, and the end-to-end rate (for the ratio with the raw broker rate)."""
    stack = launch(infra.env(), log_dir / "e2e", extra_env={"LOG_LEVEL": "INFO"})
    engine = create_engine(infra.database_url("notifications"))
    try:
        demo = prepare_sender(stack, limit=10 * n + 1_000_000)
        sid = demo["service_id"]
        body = sms_body(demo["templates"]["sms"])
        longest = n / 20 + soak_seconds + 600
        tokens = mint_tokens(demo["api_keys"]["normal"], seconds=longest)
        pids = {name: child.pid for name, (_, child) in stack.procs.items()}
        with RssSampler(pids) as rss:
            before = cpu.snapshot(pids)
            sent = run_wrk(
                stack.base_url,
                path=PATH,
                body=body,
                seconds=n / 20,
                connections=CONNECTIONS,
                tokens=tokens,
                stop_after=n,
            )
            if sent.created != sent.requests or sent.socket_errors or sent.created < n:
                raise RuntimeError(
                    f"end to end: {sent.created} of {sent.requests} answered 201 ({sent.socket_errors} socket "
                    f"errors) for {n} wanted"
                )
            timed = _wait_final(stack, engine, sid, sent.created, timeout=max(600.0, n / 20))
            spent = cpu.spent(before, cpu.snapshot(pids))
            created, finished, statuses = _times(engine, sid)
            e2e_seconds = (max(finished) - min(created)).total_seconds()
            rate = timed / e2e_seconds
            delivered_series = _per_second(finished)
            steady = sustained(delivered_series)
            soaked = 0
            elapsed = time.monotonic() - rss.started
            if soak_seconds - elapsed >= 60:
                soak = run_wrk(
                    stack.base_url,
                    path=PATH,
                    body=body,
                    seconds=soak_seconds - elapsed,
                    connections=CONNECTIONS,
                    tokens=tokens,
                    rate=max(20.0, steady / 2),
                )
                if soak.created != soak.requests or soak.socket_errors:
                    raise RuntimeError(f"soak: {soak.created} of {soak.requests} answered 201")
                soaked = _wait_final(stack, engine, sid, timed + soak.created, timeout=600) - timed
            total_seconds = time.monotonic() - rss.started
        stored, lost, repeated = _exactly_once(stack, engine, sid)
        accepted = timed + soaked
        if stored != accepted or lost or repeated:
            raise RuntimeError(
                f"end to end: of {stored} notifications ({accepted} final), {lost} reached no simulator and "
                f"{repeated} reached one more than once"
            )
    finally:
        engine.dispose()
        stack.stop_all()

    section = Section(
        title=TITLE,
        intro=(
            f"{timed:,} texts sent through the gateway at saturation (wrk, {CONNECTIONS} connections, pre-minted "
            "JWTs) with the whole stack running as `make run` runs it (every service, the SMS simulators sending "
            "delivery receipts), timed from the first notification's `created_at` to the last one's final status "
            "in the notifications database. Then a soak at half the sustained rate until "
            f"{soak_seconds / 60:.0f} minutes had passed, with every process's resident memory sampled every 2 s."
        ),
    )
    section.rows += [
        Row(f"{timed:,} texts: first POST to last final status", e2e_seconds, "s"),
        Row(f"{timed:,} texts: end to end", rate, "msg/s", target=TARGET),
        Row("end to end: sustained (median per-second, middle 80%)", steady, "msg/s", target=TARGET),
        Row("accepted by the gateway meanwhile", sent.rate, "req/s"),
    ]
    whole = sum(spent.values())
    by_process = sorted(spent.items(), key=lambda kv: -kv[1])
    section.notes.append(
        f"CPU per notification, POST to final status (ms), whole machine {1000 * whole / timed:.2f}: "
        + ", ".join(f"{name} {1000 * seconds / timed:.2f}" for name, seconds in by_process)
        + f". At {TARGET:,.0f} notifications/s that is {whole / timed * TARGET:.1f} cores of CPU; this "
        "machine has 2."
    )
    section.notes.append(
        "final statuses: "
        + ", ".join(f"{status} {count:,}" for status, count in sorted(statuses.items()))
        + f"; each of the {accepted:,} accepted ({timed:,} in the timed run, {soaked:,} in the soak) reached an "
        f"SMS simulator exactly once (their per-id counts: {lost} lost, {repeated} repeated); wrk counted "
        f"{sent.created:,} 201s in the timed run (it stops with requests in flight, which are accepted too)."
    )
    worst_growth = 0.0
    trajectory = []
    for name in pids:
        mid = rss.median_between(name, total_seconds / 2 - 30, total_seconds / 2 + 30)
        end = rss.median_between(name, total_seconds - 60, total_seconds)
        start = rss.median_between(name, 0, 60)
        growth = end - mid
        if growth > max(GROWTH_MB, GROWTH_SHARE * mid):
            worst_growth = max(worst_growth, growth)
        trajectory.append((name, start, mid, end, rss.peak(name)))
        section.series[f"rss_mb:{name}"] = rss.series(name)
    peak_name, *_, peak = max(trajectory, key=lambda t: t[4])
    section.rows.append(Row(f"peak RSS of any service ({peak_name})", peak, "MB"))
    section.rows.append(
        Row(
            f"memory growth beyond {GROWTH_MB:.0f} MB / {GROWTH_SHARE:.0%}, middle to end of the "
            f"{total_seconds / 60:.1f}-minute run",
            worst_growth,
            "MB",
            ceiling=0.0,
        )
    )
    section.notes.append(
        "RSS (MB) at the start, middle and end of the run (medians of a minute), and peak: "
        + "; ".join(f"{n_} {s:.0f} → {m:.0f} → {e:.0f} (peak {p:.0f})" for n_, s, m, e, p in trajectory)
        + "."
    )
    section.series["accepted"] = _per_second(created)
    section.series["final"] = delivered_series
    return section, rate
