"""Writes the Grafana dashboard of the platform's key figures from one table of panels.

    uv run python deploy/monitoring/dashboard.py          # rewrite grafana-dashboard.json
    uv run python deploy/monitoring/dashboard.py --check  # exit 1 if the committed file is stale (tests do this too)

Import the JSON in Grafana (Dashboards → Import) and pick the Prometheus data source scraping the pods.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUT = HERE / "grafana-dashboard.json"
V2 = 'route=~"/v2/.*"'

# (title, unit, [(expression, legend)])
PANELS: list[tuple[str, str, list[tuple[str, str]]]] = [
    (
        "Public API requests by status",
        "reqps",
        [(f"sum by (status) (rate(notify_http_request_seconds_count{{{V2}}}[1m]))", "{{status}}")],
    ),
    (
        "Public API latency",
        "s",
        [
            (
                f"histogram_quantile({q}, sum by (le) (rate(notify_http_request_seconds_bucket{{{V2}}}[5m])))",
                f"p{round(q * 100)}",
            )
            for q in (0.5, 0.95, 0.99)
        ],
    ),
    (
        "Events published by type",
        "ops",
        [("sum by (event_type) (rate(notify_events_published_total[1m]))", "{{event_type}}")],
    ),
    (
        "Events consumed by queue",
        "ops",
        [("sum by (queue) (rate(notify_events_consumed_total[1m]))", "{{queue}}")],
    ),
    (
        "Events failed and dead-lettered",
        "ops",
        [
            ("sum by (queue) (rate(notify_events_failed_total[5m]))", "failed {{queue}}"),
            (
                "sum by (queue, reason) (rate(notify_events_dead_lettered_total[5m]))",
                "dead-lettered {{queue}} ({{reason}})",
            ),
        ],
    ),
    (
        "Outbox: oldest waiting event and rows waiting",
        "s",
        [
            ("max by (pod) (notify_outbox_oldest_seconds)", "oldest {{pod}}"),
            ("sum by (pod) (notify_outbox_pending)", "waiting {{pod}}"),
        ],
    ),
    (
        "Provider calls by outcome",
        "ops",
        [("sum by (provider, outcome) (rate(notify_provider_calls_total[1m]))", "{{provider}} {{outcome}}")],
    ),
    (
        "Provider latency (p95)",
        "s",
        [
            (
                "histogram_quantile(0.95, sum by (le, provider) (rate(notify_provider_call_seconds_bucket[5m])))",
                "{{provider}}",
            )
        ],
    ),
    (
        "SMS provider priorities",
        "none",
        [("max by (provider) (notify_sms_provider_priority)", "{{provider}}")],
    ),
    (
        "Service callbacks by outcome",
        "ops",
        [
            (
                "sum by (callback_type, outcome) (rate(notify_callbacks_total[5m]))",
                "{{callback_type}} {{outcome}}",
            )
        ],
    ),
]


def dashboard() -> dict[str, Any]:
    panels = []
    for index, (title, unit, targets) in enumerate(PANELS):
        panels.append(
            {
                "id": index + 1,
                "type": "timeseries",
                "title": title,
                "datasource": {"type": "prometheus", "uid": "${datasource}"},
                "gridPos": {"h": 8, "w": 12, "x": 12 * (index % 2), "y": 8 * (index // 2)},
                "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
                "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
                "targets": [
                    {"refId": chr(ord("A") + i), "expr": expr, "legendFormat": legend}
                    for i, (expr, legend) in enumerate(targets)
                ],
            }
        )
    return {
        "uid": "notify-platform",
        "title": "Notify platform",
        "tags": ["notify"],
        "timezone": "utc",
        "schemaVersion": 39,
        "refresh": "30s",
        "time": {"from": "now-1h", "to": "now"},
        "templating": {
            "list": [
                {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Prometheus"}
            ]
        },
        "panels": panels,
    }


def render() -> str:
    return json.dumps(dashboard(), indent=2) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not OUT.exists() or OUT.read_text() != text:
            print(f"{OUT} is stale: run `uv run python deploy/monitoring/dashboard.py`", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
