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
    # name -> [(second since the start, value: a rate in that second, or MB for "rss_mb:*")], written as CSV
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


def _kept_sections(path: Path, replaced: set[str]) -> dict[str, str]:
    """The sections of an earlier report (title -> its text), except those being measured anew."""
    if not path.exists():
        return {}
    kept: dict[str, str] = {}
    for chunk in path.read_text().split("\n## ")[1:]:
        title = chunk.split("\n", 1)[0].strip()
        if title not in replaced:
            kept[title] = "## " + chunk.rstrip() + "\n"
    return kept


def csv_path(path: Path, title: str) -> Path:
    slug = title.lower().split(":")[0].replace(" ", "-")
    return path.with_name(f"{path.stem}-{slug}.csv")


def write(
    sections: list[Section],
    path: Path,
    *,
    command: str,
    order: list[str] | None = None,
    preamble: list[str] | None = None,
) -> None:
    """Write the report and one ``<stem>-<section>.csv`` of per-second rates per section that has any.

    Sections not measured this time (``--only``) are kept from the existing report as they were, each with the date
    and command it was measured with; ``order`` (section titles) sets their order."""
    now = datetime.now(UTC)
    kept = _kept_sections(path, {section.title for section in sections})
    out = [
        "# Benchmarks",
        "",
        f"Measured on {machine()}. Everything (RabbitMQ, Postgres, Redis, the services and the simulators) runs on",
        "this one machine, so the figures are what the whole platform does on it, not what one service would do",
        "alone on a larger host. Where each figure's CPU goes and what would lift it: [performance.md](performance.md).",
        "",
        *(preamble or []),
    ]
    written: dict[str, list[str]] = {}
    for section in sections:
        text = [
            f"## {section.title}",
            "",
            f"Measured {now:%Y-%m-%d %H:%M} UTC with `{command}`.",
            "",
            section.intro,
            "",
            table(section),
            "",
        ]
        for note in section.notes:
            text += [f"- {note}"]
        if section.notes:
            text.append("")
        if section.series:
            series_path = csv_path(path, section.title)
            with series_path.open("w", newline="") as f:
                writer = csv.writer(f)
                writer.writerow(["series", "second", "value"])
                for name, points in section.series.items():
                    writer.writerows((name, second, value) for second, value in points)
            text += [f"Per-second figures: [`{series_path.name}`]({series_path.name}).", ""]
        written[section.title] = text
    titles = list(order or [])
    titles += [t for t in [*written, *kept] if t not in titles]
    for title in titles:
        if title in written:
            out += written[title]
        elif title in kept:
            out += [kept[title]]
    path.write_text("\n".join(out))
