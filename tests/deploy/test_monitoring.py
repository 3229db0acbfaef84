"""The monitoring files match the code: every metric the alerts and the dashboard use is one the services register,
every alert is explained in the runbook, the dashboard is generated, and every platform pod is scraped."""

from __future__ import annotations

import importlib
import pkgutil
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY

from .test_k8s import container

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "deploy" / "monitoring"
RUNBOOK = ROOT / "docs" / "operations.md"
PACKAGES = (
    "notify_platform",
    "notify_gateway",
    "notify_notifications",
    "notify_jobs",
    "notify_delivery_sms",
    "notify_delivery_email",
    "notify_delivery_letter",
)
METRIC = re.compile(r"\b(notify_[a-z_]+)")


@pytest.fixture(scope="module")
def registered() -> set[str]:
    """Every sample name the code's metrics can expose (a histogram's _bucket/_count/_sum, a counter's _total)."""
    for package in PACKAGES:
        root = importlib.import_module(package)
        for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
            if ".migrations" not in info.name and not info.name.endswith("__main__"):
                importlib.import_module(info.name)
    names: set[str] = set()
    for collector in list(REGISTRY._collector_to_names):  # noqa: SLF001 (the registry has no public listing)
        for metric in collector.describe() if hasattr(collector, "describe") else []:
            for sample in ("", "_total", "_bucket", "_count", "_sum", "_created"):
                names.add(metric.name + sample)
    return {n for n in names if n.startswith("notify_")}


def _alerts() -> list[dict[str, Any]]:
    rules = yaml.safe_load((MONITORING / "alerts.yaml").read_text())
    return [rule for group in rules["groups"] for rule in group["rules"]]


def _dashboard_expressions() -> list[str]:
    import json

    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def test_the_dashboard_is_generated_from_its_table() -> None:
    result = subprocess.run(
        [sys.executable, str(MONITORING / "dashboard.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_every_metric_the_alerts_and_dashboard_use_is_registered_by_the_code(registered: set[str]) -> None:
    used = {
        name
        for expr in [r["expr"] for r in _alerts()] + _dashboard_expressions()
        for name in METRIC.findall(expr)
    }
    assert used, "no notify_ metrics found in the rules and dashboard"
    assert used - registered == set(), f"not registered by any service: {sorted(used - registered)}"


def test_every_alert_is_well_formed_and_explained_in_the_runbook() -> None:
    runbook = RUNBOOK.read_text()
    names = [rule["alert"] for rule in _alerts()]
    assert len(names) == len(set(names))
    for rule in _alerts():
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert rule["annotations"]["runbook"] == f"docs/operations.md#{rule['alert'].lower()}"
        assert f"\n### {rule['alert']}\n" in runbook, f"{rule['alert']} has no section in docs/operations.md"
    sections = re.findall(r"^### (Notify\w+)$", runbook, flags=re.MULTILINE)
    assert sorted(sections) == sorted(names), "a runbook section for an alert that does not exist"


def test_every_platform_pod_is_scraped_on_its_http_port(rendered) -> None:
    for overlay in ("dev", "prod"):
        for obj in rendered[overlay]:
            if obj["kind"] != "Deployment" or obj["metadata"]["labels"][
                "app.kubernetes.io/component"
            ].startswith("sim-"):
                continue
            annotations = obj["spec"]["template"]["metadata"].get("annotations", {})
            (port,) = [p["containerPort"] for p in container(obj)["ports"] if p["name"] == "http"]
            assert annotations == {
                "prometheus.io/scrape": "true",
                "prometheus.io/port": str(port),
                "prometheus.io/path": "/metrics",
            }, obj["metadata"]["name"]
