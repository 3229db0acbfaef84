"""The report's plot: one panel per section CSV of ``make bench`` (rates per second, and resident memory over the
end-to-end run), drawn with matplotlib into ``docs/benchmarks.png``."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path


def read(path: Path) -> dict[str, list[tuple[int, float]]]:
    series: dict[str, list[tuple[int, float]]] = defaultdict(list)
    with path.open(newline="") as f:
        reader = csv.reader(f)
        next(reader, None)
        for name, second, value in reader:
            series[name].append((int(second), float(value)))
    return dict(series)


def draw(csv_paths: list[Path], out: Path) -> Path | None:
    """Draw every CSV's series (rates on the left axis; ``rss_mb:*`` series on a panel of their own)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels: list[tuple[str, dict[str, list[tuple[int, float]]], str]] = []
    for path in csv_paths:
        if not path.exists():
            continue
        series = read(path)
        title = path.stem.split("-", 1)[-1].replace("-", " ")
        rates = {k: v for k, v in series.items() if not k.startswith("rss_mb:")}
        memory = {k.split(":", 1)[1]: v for k, v in series.items() if k.startswith("rss_mb:")}
        if rates:
            panels.append((title, rates, "per second"))
        if memory:
            panels.append((f"{title}: resident memory", memory, "MB"))
    if not panels:
        return None
    fig, axes = plt.subplots(len(panels), 1, figsize=(10, 3.2 * len(panels)), squeeze=False)
    for ax, (title, series, unit) in zip(axes[:, 0], panels, strict=True):
        for name, points in sorted(series.items()):
            ax.plot([p[0] for p in points], [p[1] for p in points], label=name, linewidth=1)
        ax.set_title(title)
        ax.set_xlabel("seconds")
        ax.set_ylabel(unit)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, ncol=4, loc="upper right")
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out
