"""CSV batch sends: a spreadsheet uploaded through the admin API, checked, and every row stored as a notification.

The stack is the gateway, notifications (its consumer storing what jobs announces) and jobs run as Kubernetes runs
it (an ``api`` process for uploads, a ``consumer`` process for the scheduler and the workers). The delivery services
are not started: their queues keep what notifications hands on, so the figure is the batch path alone.

* ``checked``: the upload of an ``n``-row CSV (SMS, a placeholder per row) until its per-row report is answered:
  the file read as a stream, every row checked and stored.
* ``stored``: from the job's creation until notifications holds all ``n`` of its notifications; then ``handed on``:
  until its outbox has relayed every delivery request too (the CPU per row is measured to that point).
* The big file: an ``n_big``-row CSV uploaded and processed to the end (every row announced and stored), with the
  jobs processes' peak resident memory (``VmHWM``) read from ``/proc``.
"""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from ..admin_client import AdminClient
from ..demo import create_demo
from ..launcher import RunningStack, launch
from ..testing import Infra
from . import cpu
from .delivery import start_as_deployed
from .report import Row, Section

CHECK_TARGET_S = 10.0
STORED_TARGET_S = 60.0
RSS_TARGET_MB = 300.0
GAVE_UP = {"sending limits exceeded", "cancelled", "error"}
TEMPLATE = "Hello ((name)), your appointment is on ((day)). Reply STOP to opt out."

TITLE = "Jobs: CSV batch sends"


def csv_bytes(n: int) -> bytes:
    out = io.StringIO()
    out.write("phone number,name,day\n")
    for i in range(n):
        out.write(f"07700 9{i % 100000:05d},Person {i},Monday {i % 28 + 1}\n")
    return out.getvalue().encode()


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _stored(engine: Any, job_id: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM notifications WHERE job_id = :id"), {"id": job_id}
            ).scalar_one()
        )


def _outbox(engine: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM outbox")).scalar_one())


def _job_status(admin: AdminClient, sid: str, job_id: str) -> str:
    return str(admin.get(f"/service/{sid}/job/{job_id}")["data"]["job_status"])


def send_job(
    stack: RunningStack, admin: AdminClient, demo: dict[str, Any], engine: Any, n: int, *, timeout: float
) -> dict[str, Any]:
    sid = demo["service_id"]
    template_id = admin.post(
        f"/service/{sid}/template",
        {
            "name": f"bench {n}",
            "template_type": "sms",
            "content": TEMPLATE,
            "service": sid,
            "created_by": demo["user_id"],
        },
    )["data"]["id"]
    content = csv_bytes(n)
    started = time.perf_counter()
    report = admin.upload(f"/service/{sid}/job/upload", f"bench-{n}.csv", content, template_id=template_id)[
        "data"
    ]
    checked = time.perf_counter() - started
    if not report["valid"] or report["notification_count"] != n:
        raise RuntimeError(f"bench file refused: {report['errors'][:3]}")
    pids = {name: child.pid for name, (_, child) in stack.procs.items()}
    before = cpu.snapshot(pids)
    started = time.perf_counter()
    admin.post(f"/service/{sid}/job", {"id": report["id"], "created_by": demo["user_id"]})
    series: list[tuple[int, int]] = []
    stored = 0
    deadline = started + timeout
    while stored < n:
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{stored} of {n} stored after {timeout:.0f}s")
        for name in ("jobs-api", "jobs-consumer", "notifications"):
            if stack.procs[name][1].poll() is not None:
                raise RuntimeError(f"{name} exited:\n{stack.tail(name)}")
        if len(series) % 10 == 9 and (job_status := _job_status(admin, sid, report["id"])) in GAVE_UP:
            raise RuntimeError(f"the job ended {job_status!r} with {stored} of {n} stored")
        time.sleep(1)
        now = _stored(engine, report["id"])
        series.append((len(series) + 1, now - stored))
        stored = now
    all_stored = time.perf_counter() - started
    while _outbox(engine):  # and every delivery request relayed on: the CPU below covers the whole hand-over
        if time.perf_counter() > deadline:
            raise TimeoutError(
                f"{_outbox(engine)} delivery requests still in the outbox after {timeout:.0f}s"
            )
        time.sleep(0.25)
    handed_on = time.perf_counter() - started
    spent = cpu.spent(before, cpu.snapshot(pids))
    return {
        "handed_on_s": handed_on,
        "cpu_ms_per_row": {name: 1000 * seconds / n for name, seconds in spent.items()},
        "checked_s": checked,
        "stored_s": all_stored,
        "series": series,
        "bytes": len(content),
        "job_id": report["id"],
        "status": _job_status(admin, sid, report["id"]),
    }


def run(infra: Infra, log_dir: Path, *, n: int, n_big: int) -> Section:
    section = Section(
        title=TITLE,
        intro=(
            f"A {n:,}-row CSV (SMS template with two placeholders) uploaded through the gateway's admin API, checked "
            "and stored by jobs; then the job created and every row announced by jobs and stored by notifications "
            "(the delivery services are not running: their queues keep what notifications hands on)."
            + (
                f" Then a {n_big:,}-row file uploaded and processed to the end, with the jobs processes' peak memory."
                if n_big
                else ""
            )
        ),
    )
    env = {
        "JOB_MAX_ROWS": str(max(n, n_big)),
        "JOB_MAX_FILE_BYTES": str(200 * 1024 * 1024),
        "LOG_LEVEL": "INFO",
    }
    stack = launch(infra.env(), log_dir / "jobs", extra_env=env, only=("notifications", "gateway"))
    engine = create_engine(infra.database_url("notifications"))
    try:
        names = start_as_deployed(stack, "jobs")
        stack.wait_ready(names)
        # Room in today's limit for every row of both files.
        demo = create_demo(stack.base_url, stack.admin_secret, sms_message_limit=2 * (n + n_big))
        admin = AdminClient(stack.base_url, stack.admin_secret, timeout=600)
        first = send_job(stack, admin, demo, engine, n, timeout=600)
        section.rows.append(
            Row(f"{n:,} rows: checked (upload to report)", first["checked_s"], "s", ceiling=CHECK_TARGET_S)
        )
        section.rows.append(
            Row(
                f"{n:,} rows: all stored (job created to last row stored)",
                first["stored_s"],
                "s",
                ceiling=STORED_TARGET_S,
            )
        )
        section.rows.append(Row(f"{n:,} rows: stored per second", n / first["stored_s"], "rows/s"))
        section.rows.append(
            Row(f"{n:,} rows: all handed on (every delivery request relayed)", first["handed_on_s"], "s")
        )
        section.series["stored"] = first["series"]
        section.notes.append(
            f"{n:,} rows: a {first['bytes'] / 1e6:.1f} MB file; job status once every row was stored: "
            f"`{first['status']}`."
        )
        by_process = sorted(first["cpu_ms_per_row"].items(), key=lambda kv: -kv[1])
        section.notes.append(
            f"{n:,} rows: CPU per row from job created to every delivery request relayed (ms), whole machine "
            f"{sum(first['cpu_ms_per_row'].values()):.2f}: "
            + ", ".join(f"{k} {v:.2f}" for k, v in by_process)
        )
        if n_big:
            big = send_job(stack, admin, demo, engine, n_big, timeout=max(1800.0, n_big / 200))
            rss = {name: peak_rss_mb(stack.procs[name][1].pid) for name in names}
            worst = max(rss.values())
            section.rows.append(Row(f"{n_big:,} rows: checked", big["checked_s"], "s"))
            section.rows.append(Row(f"{n_big:,} rows: all stored", big["stored_s"], "s"))
            section.rows.append(
                Row(f"{n_big:,} rows: jobs peak RSS (largest process)", worst, "MB", ceiling=RSS_TARGET_MB)
            )
            section.notes.append(
                f"{n_big:,} rows: a {big['bytes'] / 1e6:.1f} MB file; peak RSS "
                + ", ".join(f"{name} {mb:.0f} MB" for name, mb in rss.items())
                + "."
            )
        admin.close()
    finally:
        engine.dispose()
        stack.stop_all()
    return section
