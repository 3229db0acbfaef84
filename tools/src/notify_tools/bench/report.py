"""The benchmark report: a table per section, printed and written to ``docs/benchmarks.md`` with the machine it
was measured on, and each section's per-second rates as CSV next to it."""

from __future__ import annotations

import csv
import os
import platform
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path


@dataclass
class Row:
    name: str
    figure: float
    unit: str
    target: float | None = None  # the figure must be at least this
    note: str = ""
    ceiling: float | None = None  # or at most this (times, memory)

    @property
    def verdict(self) -> str:
        if self.ceiling is not None:
            return "met" if self.figure <= self.ceiling else "NOT met"
        if self.target is None:
            return ""
        return "met" if self.figure >= self.target else "NOT met"


@dataclass
class Section:
    title: str
    intro: str
    rows: list[Row] = field(default_factory=list)
    # name -> [(second since the start, rate in that second)], written as CSV for plotting
    series: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _figure(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.2f}"


def table(section: Section) -> str:
    lines = ["| measure | figure | target | |", "|---|---:|---:|---|"]
    for row in section.rows:
        target = "" if row.target is None else f"≥ {_figure(row.target)} {row.unit}"
        if row.ceiling is not None:
            target = f"≤ {_figure(row.ceiling)} {row.unit}"
        figure = f"{_figure(row.figure)} {row.unit}"
        lines.append(f"| {row.name} | {figure} | {target} | {row.verdict} {row.note}".rstrip() + " |")
    return "\n".join(lines)


def machine() -> str:
    return (
        f"{os.cpu_count()} cores ({platform.processor() or platform.machine()}), Python "
        f"{platform.python_version()}, {platform.system()} {platform.release()}"
    )


def write(sections: list[Section], path: Path, *, command: str) -> None:
    """Write the report and one ``<stem>-<section>.csv`` of per-second rates per section that has any."""
    now = datetime.now(UTC)
    out = [
        "# Benchmarks",
        "",
        f"Measured {now:%Y-%m-%d %H:%M} UTC on {machine()}, with `{command}`. Everything (RabbitMQ, Postgres,",
        "Redis, the services and the simulators) runs on this one machine, so the figures are what the whole",
        "platform does on it, not what one service would do alone on a larger host. Where each figure's CPU goes",
        "and what would lift it: [performance.md](performance.md).",
        "",
    ]
    for section in sections:
        out += [f"## {section.title}", "", section.intro, "", table(section), ""]
        for note in section.notes:
            out += [f"- {note}"]
        if section.notes:
            out.append("")
        if section.series:
            slug = section.title.lower().split(":")[0].replace(" ", "-")
            csv_path = path.with_name(f"{path.stem}-{slug}.csv")
            with csv_path.open("w", newline="") as f:
                writer = csv.writer(f)
                writer.writerow(["series", "second", "per_second"])
                for name, points in section.series.items():
                    writer.writerows((name, second, rate) for second, rate in points)
            out += [f"Per-second rates: [`{csv_path.name}`]({csv_path.name}).", ""]
    path.write_text("\n".join(out))
