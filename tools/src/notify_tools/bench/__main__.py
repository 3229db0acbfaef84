"""``notify-bench``: run the benchmark sections against a stack of real processes on this machine's RabbitMQ,
Postgres and Redis (an isolated vhost, databases and key prefix, removed afterwards), print the results and write
``docs/benchmarks.md``."""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
from pathlib import Path

from ..testing import isolated_infra
from . import baseline, delivery, jobs
from .report import Section, table, write

SECTIONS = ("baseline", "delivery", "jobs")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="notify-bench", description=__doc__)
    parser.add_argument("--only", choices=SECTIONS, action="append", help="run only these sections")
    parser.add_argument(
        "--baseline-n", type=int, default=20_000, help="messages of the raw broker baseline (default 20,000)"
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
        default=1_000_000,
        help="rows of the big file (memory; 1,000,000; 0 skips it)",
    )
    parser.add_argument("--report", type=Path, default=Path("docs/benchmarks.md"))
    parser.add_argument("--logs", type=Path, default=None, help="keep the services' logs here")
    args = parser.parse_args(argv)
    # A stopped run (kill, CI timeout) still stops its processes and removes its vhost, databases and keys.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    chosen = tuple(args.only or SECTIONS)
    log_dir = args.logs or Path(tempfile.mkdtemp(prefix="notify-bench-"))
    sections: list[Section] = []
    with isolated_infra() as infra:
        if "baseline" in chosen:
            sections.append(baseline.run(infra, n=args.baseline_n))
        if "delivery" in chosen:
            channels = tuple(c.strip() for c in args.channels.split(",") if c.strip())
            sections.append(delivery.run(infra, log_dir, n=args.delivery_n, channels=channels))
        if "jobs" in chosen:
            sections.append(jobs.run(infra, log_dir, n=args.jobs_n, n_big=args.jobs_big_n))
    for section in sections:
        print(f"\n## {section.title}\n\n{table(section)}")
        for note in section.notes:
            print(f"- {note}")
    command = (
        "make bench" if argv is None and len(sys.argv) == 1 else "notify-bench " + " ".join(sys.argv[1:])
    )
    order = [baseline.TITLE, delivery.TITLE, jobs.TITLE]
    write(sections, args.report, command=command, order=order)
    print(f"\nreport written to {args.report}; logs in {log_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
