"""Meta-tests that keep the system in step: every module imports with no services up, and every event type is
routed to a declared queue (or is listed, with the reason, as not consumed yet)."""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from notify_contracts import registered_events
from notify_tools.stack import MIGRATING

PACKAGES = [
    "notify_contracts",
    "notify_platform",
    "notify_content",
    "notify_tools",
    "notify_gateway",
    "notify_notifications",
    "notify_jobs",
    "notify_delivery_sms",
    "notify_delivery_email",
    "notify_delivery_letter",
]

# Events published today whose consumers arrive with a later piece of work. Remove a line when its consumer lands.
NOT_CONSUMED_YET: dict[str, str] = {}


def _modules(package: str) -> list[str]:
    root = importlib.import_module(package)
    names = [package]
    for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
        if ".migrations" in info.name or info.name.endswith("__main__"):
            continue
        names.append(info.name)
    return names


@pytest.mark.parametrize("package", PACKAGES)
def test_every_module_imports_without_services(package: str) -> None:
    for name in _modules(package):
        importlib.import_module(name)


def _matches(pattern: str, routing_key: str) -> bool:
    p, k = pattern.split("."), routing_key.split(".")
    return len(p) == len(k) and all(a in ("*", b) for a, b in zip(p, k, strict=True))


def test_every_event_type_reaches_a_declared_queue() -> None:
    patterns = [
        pattern
        for module in MIGRATING
        for patterns in importlib.import_module(f"{module}.bootstrap").QUEUES.values()
        for pattern in patterns
    ]
    # Broadcast subscriptions (one transient queue per process) are declared by the process itself.
    patterns += importlib.import_module("notify_gateway.bootstrap").CHANGE_EVENTS
    unrouted = {
        event_type
        for (event_type, version), model in registered_events().items()
        if not any(_matches(p, model.routing_key()) for p in patterns)
    }
    assert unrouted == set(NOT_CONSUMED_YET), "update NOT_CONSUMED_YET or declare the consumer's queue"
