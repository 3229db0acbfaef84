"""``notify-bench``: run the benchmark sections against a stack of real processes on this machine's RabbitMQ,
Postgres and Redis (an isolated vhost, databases and key prefix, removed afterwards), print the results and write
``docs/benchmarks.md``, a CSV of per-second figures per section, and ``docs/benchmarks.png``.

``make bench`` runs the default sections (baseline, accept, e2e, jobs) in one run, so the ratios between them are
read under the same conditions. ``delivery`` (each delivery service alone) runs only when asked with ``--only``.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import time
from pathlib import Path

from ..testing import isolated_infra
from . import accept, baseline, delivery, e2e, jobs, plot
from .report import Row, Section, csv_path, table, write

DEFAULT_SECTIONS = ("baseline", "accept", "e2e", "jobs")
SECTIONS = (*DEFAULT_SECTIONS, "delivery")
RATIOS_TITLE = "Ratios: measured in the same run"
GATEWAY_RATIO_TARGET = 0.5


def ratios(
    bare_rate: float | None, gateway_rate: float | None, broker_rate: float | None, e2e_rate: float | None
) -> Section | None:
    section = Section(
        title=RATIOS_TITLE,
        intro=(
            "Each ratio is of two figures measured in this one run, so what the machine was doing meanwhile weighs on "
            "both: the gateway at saturation against the bare FastAPI endpoint (same server, same load generator, "
            "same body), and the end-to-end rate against the raw broker's publish-with-confirms rate."
        ),
    )
    if bare_rate and gateway_rate:
        section.rows.append(
            Row("gateway / bare FastAPI", gateway_rate / bare_rate, "×", target=GATEWAY_RATIO_TARGET)
        )
    if broker_rate and e2e_rate:
        section.rows.append(Row("end to end / raw broker publish", e2e_rate / broker_rate, "×"))
    return section if section.rows else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="notify-bench", description=__doc__)
    parser.add_argument(
        "--only",
        choices=SECTIONS,
        action="append",
        help="run only these sections (default: baseline, accept, e2e, jobs)",
    )
    parser.add_argument(
        "--baseline-n", type=int, default=20_000, help="messages of the raw broker baseline (default 20,000)"
    )
    parser.add_argument(
        "--http-seconds",
        type=float,
        default=10.0,
        help="seconds of each HTTP load (bare FastAPI, accept; 10)",
    )
    parser.add_argument("--e2e-n", type=int, default=100_000, help="texts sent end to end (default 100,000)")
    parser.add_argument(
        "--soak-seconds",
        type=float,
        default=600.0,
        help="the end-to-end run and the soak after it last this long in all (default 600: 10 minutes)",
    )
    parser.add_argument(
        "--delivery-n", type=int, default=20_000, help="requests per delivery service (default 20,000)"
    )
    parser.add_argument(
        "--channels", default="sms,email,letter", help="delivery channels to measure (default: all three)"
    )
    parser.add_argument(
        "--jobs-n", type=int, default=100_000, help="rows of the jobs section's CSV (100,000)"
    )
    parser.add_argument(
        "--jobs-big-n",
        type=int,
        default=0,
        help="rows of a second, big file for the jobs processes' peak memory (e.g. 1,000,000; default 0: none)",
    )
    parser.add_argument("--report", type=Path, default=Path("docs/benchmarks.md"))
    parser.add_argument("--logs", type=Path, default=None, help="keep the services' logs here")
    args = parser.parse_args(argv)
    # A stopped run (kill, CI timeout) still stops its processes and removes its vhost, databases and keys.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    chosen = tuple(args.only or DEFAULT_SECTIONS)
    log_dir = args.logs or Path(tempfile.mkdtemp(prefix="notify-bench-"))
    sections: list[Section] = []
    bare_rate = gateway_rate = broker_rate = e2e_rate = None
    started = time.monotonic()
    with isolated_infra() as infra:
        if "baseline" in chosen:
            broker = baseline.run(infra, n=args.baseline_n)
            broker_rate = broker.rows[0].figure
            bare, bare_result = accept.bare_section(args.http_seconds, log_dir)
            bare_rate = bare_result.rate
            sections += [broker, bare]
        if "accept" in chosen:
            section, saturated, _ = accept.run(infra, log_dir, seconds=args.http_seconds)
            gateway_rate = saturated.rate
            sections.append(section)
        if "e2e" in chosen:
            section, e2e_rate = e2e.run(infra, log_dir, n=args.e2e_n, soak_seconds=args.soak_seconds)
            sections.append(section)
        if "jobs" in chosen:
            sections.append(jobs.run(infra, log_dir, n=args.jobs_n, n_big=args.jobs_big_n))
        if "delivery" in chosen:
            channels = tuple(c.strip() for c in args.channels.split(",") if c.strip())
            sections.append(delivery.run(infra, log_dir, n=args.delivery_n, channels=channels))
    if (ratio := ratios(bare_rate, gateway_rate, broker_rate, e2e_rate)) is not None:
        sections.append(ratio)
    minutes = (time.monotonic() - started) / 60
    for section in sections:
        print(f"\n## {section.title}\n\n{table(section)}")
        for note in section.notes:
            print(f"- {note}")
    command = (
        "make bench" if argv is None and len(sys.argv) == 1 else "notify-bench " + " ".join(sys.argv[1:])
    )
    order = [
        RATIOS_TITLE,
        baseline.TITLE,
        accept.BARE_TITLE,
        accept.TITLE,
        e2e.TITLE,
        jobs.TITLE,
        delivery.TITLE,
    ]
    png = args.report.with_suffix(".png")
    preamble = [
        f"The last run (`{command}`) took {minutes:.1f} minutes. Plot of the per-second figures: "
        f"[`{png.name}`]({png.name}).",
        "",
    ]
    write(sections, args.report, command=command, order=order, preamble=preamble)
    csvs = [csv_path(args.report, title) for title in (e2e.TITLE, jobs.TITLE, delivery.TITLE)]
    plot.draw(csvs, png)
    print(f"\nreport written to {args.report} ({minutes:.1f} minutes); plot {png}; logs in {log_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
