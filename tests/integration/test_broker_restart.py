"""A RabbitMQ restart: the gateway answers 503 quickly while the broker is down, every connection recovers by
itself, and sends flow end to end again afterwards."""

from __future__ import annotations

import shutil
import subprocess
import time
from typing import Any

import httpx
import pytest
from notifications_python_client.errors import HTTPError
from notifications_python_client.notifications import NotificationsAPIClient
from notify_tools.launcher import RunningStack

from .helpers import eventually

pytestmark = pytest.mark.skipif(
    shutil.which("rabbitmqctl") is None, reason="needs rabbitmqctl to stop and start the local broker"
)


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=120)


def test_services_ride_through_a_broker_restart(stack: RunningStack, demo: dict[str, Any]) -> None:
    client = NotificationsAPIClient(demo["api_keys"]["normal"], base_url=stack.base_url)

    def send() -> dict[str, Any]:
        return client.send_sms_notification(
            phone_number="07700900444",
            template_id=demo["templates"]["sms"],
            personalisation={"name": "R", "reference": "restart"},
        )

    send()  # warm the gateway's caches
    _rabbitmqctl("stop_app")
    try:
        started = time.monotonic()
        with pytest.raises(HTTPError) as refused:
            send()
        assert refused.value.status_code == 503
        assert time.monotonic() - started < 8
    finally:
        _rabbitmqctl("start_app")
        _rabbitmqctl("await_startup")

    def ready() -> bool:
        return all(
            httpx.get(f"http://127.0.0.1:{proc.port}/health/ready", timeout=5).status_code == 200
            for proc, _ in stack.procs.values()
            if proc.health_path == "/health/ready"
        )

    assert eventually(ready, bool, timeout=30, every=0.5)
    sent = eventually(_try(send), lambda r: r is not None, timeout=20, every=0.5)
    assert sent is not None
    final = eventually(
        lambda: client.get_notification_by_id(sent["id"]), lambda n: n["status"] == "delivered", timeout=60
    )
    assert final["status"] == "delivered"


def _try(fn: Any) -> Any:
    def attempt() -> Any:
        try:
            return fn()
        except HTTPError:
            return None

    return attempt
