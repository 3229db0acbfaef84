"""SIGTERM stops a service gracefully mid-stream, and SIGKILL kills a delivery worker mid-send; after a restart
every accepted notification is delivered, none is lost and none reaches a provider twice."""

from __future__ import annotations

import signal
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from notifications_python_client.notifications import NotificationsAPIClient
from notify_tools.launcher import RunningStack

from .helpers import eventually

COUNT = 60


@pytest.mark.parametrize(
    ("service", "sig"),
    [
        ("notifications", signal.SIGTERM),
        ("delivery-sms", signal.SIGTERM),
        # Killed outright: sends it had claimed but not recorded are looked up at the provider on redelivery.
        ("delivery-sms", signal.SIGKILL),
    ],
)
def test_a_stop_mid_stream_loses_nothing_and_sends_nothing_twice(
    stack: RunningStack, demo: dict[str, Any], service: str, sig: int
) -> None:
    client = NotificationsAPIClient(demo["api_keys"]["normal"], base_url=stack.base_url)

    def send(i: int) -> str:
        response = client.send_sms_notification(
            phone_number=f"07700900{300 + i:03d}",  # clear of the smoke-test and failure numbers
            template_id=demo["templates"]["sms"],
            personalisation={"name": f"n{i}", "reference": str(i)},
        )
        return str(response["id"])

    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            first_half = list(pool.map(send, range(COUNT // 2)))
            stack.stop(service, sig)
            if sig == signal.SIGTERM:
                # Graceful: consumers stopped and connections closed before exit (uvicorn re-raises the signal).
                assert '"event": "service.stopped"' in stack.tail(service, 40)
            # Sends are still accepted while it is down: they wait on durable queues.
            second_half = list(pool.map(send, range(COUNT // 2, COUNT)))
    finally:
        stack.start(service)
        stack.wait_ready([service])

    ids = first_half + second_half
    statuses = eventually(
        lambda: {i: client.get_notification_by_id(i)["status"] for i in ids},
        lambda s: all(v == "delivered" for v in s.values()),
        timeout=120,
        every=1,
    )
    assert [i for i, s in statuses.items() if s != "delivered"] == []
    counts: dict[str, int] = {}
    for sim in ("sms-sim-mmg", "sms-sim-firetext"):
        for ref, n in httpx.get(f"{stack.url(sim)}/stats", timeout=5).json()["by_reference"].items():
            counts[ref] = counts.get(ref, 0) + n
    assert {i: counts.get(i, 0) for i in ids} == {i: 1 for i in ids}
