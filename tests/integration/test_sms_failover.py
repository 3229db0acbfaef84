"""SMS provider failover end to end (behaviour.md §10): one simulator starts failing every send, delivery-sms moves
the priority to the other provider step by step, and texts sent with the real client are still delivered, each
exactly once.

delivery-sms is restarted for this test with a low error threshold and a short "changed recently" guard, so the
shift from 51/49 to 0/100 takes seconds rather than minutes; it is restarted with the stack's settings afterwards.
"""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from notifications_python_client.notifications import NotificationsAPIClient
from notify_tools.launcher import RunningStack

from .helpers import eventually

TUNED = {
    "SMS_ERROR_THRESHOLD": "5",  # more than 5 failed sends within a minute ...
    "SMS_ERROR_GUARD_SECONDS": "1",  # ... move 10 points, at most once a second
    "SMS_PRIORITY_REFRESH_SECONDS": "0.5",
    # Retries as many as production has (the test stack keeps 3, so that running out takes seconds): a text that
    # kept drawing mmg while its share was still falling must live long enough to be retried through firetext.
    "DELIVERY_RETRY_DELAYS": "1x20",
}
SIMS = ("sms-sim-mmg", "sms-sim-firetext")


@contextlib.contextmanager
def delivery_sms_with(stack: RunningStack, env: dict[str, str]) -> Iterator[None]:
    """delivery-sms restarted with ``env`` added, and restarted as it was afterwards."""
    saved = {key: stack.env.get(key) for key in env}

    def restart() -> None:
        stack.stop("delivery-sms")
        stack.start("delivery-sms")
        stack.wait_ready(["delivery-sms"])

    stack.env.update(env)
    try:
        restart()
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                stack.env.pop(key, None)
            else:
                stack.env[key] = value
        restart()


def providers(stack: RunningStack) -> dict[str, Any]:
    response = httpx.get(
        f"{stack.url('delivery-sms')}/internal/providers", params={"history": 200}, timeout=5
    )
    response.raise_for_status()
    return response.json()  # type: ignore[no-any-return]


def priority(stack: RunningStack) -> dict[str, int]:
    return {p["name"]: p["priority"] for p in providers(stack)["providers"]}


def set_priorities(stack: RunningStack, **values: int) -> None:
    """Set priorities by hand, as an admin would."""
    for name, value in values.items():
        httpx.post(
            f"{stack.url('delivery-sms')}/internal/providers/{name}", json={"priority": value}, timeout=5
        ).raise_for_status()


def sim_stats(stack: RunningStack, sim: str) -> dict[str, Any]:
    return httpx.get(f"{stack.url(sim)}/stats", timeout=5).json()  # type: ignore[no-any-return]


def set_error_rate(stack: RunningStack, sim: str, rate: float) -> None:
    httpx.put(f"{stack.url(sim)}/control", json={"error_rate": rate}, timeout=5).raise_for_status()


def test_a_failing_provider_loses_its_share_and_texts_are_still_delivered_once(
    stack: RunningStack, demo: dict[str, Any]
) -> None:
    client = NotificationsAPIClient(demo["api_keys"]["normal"], base_url=stack.base_url)
    numbers = itertools.cycle([f"07700900{n:03d}" for n in range(600, 900)])  # clear of special numbers
    used: list[str] = []

    def send(_: int) -> str:
        number = next(numbers)
        used.append(number)
        response = client.send_sms_notification(
            phone_number=number,
            template_id=demo["templates"]["sms"],
            personalisation={"name": "F", "reference": "failover"},
        )
        return str(response["id"])

    with delivery_sms_with(stack, TUNED), ThreadPoolExecutor(max_workers=5) as pool:
        set_priorities(stack, mmg=51, firetext=49)
        before = max(h["id"] for h in providers(stack)["history"])
        set_error_rate(stack, "sms-sim-mmg", 1.0)
        try:
            # Keep texts flowing while mmg fails every send, until it has lost its whole share.
            during: list[str] = []
            deadline = time.monotonic() + 90
            while priority(stack).get("mmg") != 0 and time.monotonic() < deadline:
                during += pool.map(send, range(10))
                time.sleep(0.2)
            assert priority(stack) == {"mmg": 0, "firetext": 100}
            steps = [
                (h["provider"], h["previous_priority"], h["priority"])
                for h in reversed(providers(stack)["history"])
                if h["id"] > before
            ]
            assert [s for s in steps if s[0] == "mmg"] == [
                ("mmg", 51, 41),
                ("mmg", 41, 31),
                ("mmg", 31, 21),
                ("mmg", 21, 11),
                ("mmg", 11, 1),
                ("mmg", 1, 0),
            ]
            assert {h["reason"] for h in providers(stack)["history"] if h["id"] > before} == {"errors"}

            # From now on every text goes to firetext: mmg is not even tried.
            refused = sim_stats(stack, "sms-sim-mmg")["refused"]["injected_errors"]
            assert refused > 5
            after = list(pool.map(send, range(20)))
            statuses = eventually(
                lambda: {i: client.get_notification_by_id(i)["status"] for i in after},
                lambda s: all(v == "delivered" for v in s.values()),
                timeout=60,
                every=1,
            )
            assert [i for i, s in statuses.items() if s != "delivered"] == []
            assert sim_stats(stack, "sms-sim-mmg")["refused"]["injected_errors"] == refused
            firetext = sim_stats(stack, "sms-sim-firetext")["by_reference"]
            assert {i: firetext.get(i, 0) for i in after} == {i: 1 for i in after}

            # The texts caught by the failures were retried through firetext: delivered, each sent once.
            statuses = eventually(
                lambda: {i: client.get_notification_by_id(i)["status"] for i in during},
                lambda s: all(v == "delivered" for v in s.values()),
                timeout=150,
                every=1,
            )
            assert [i for i, s in statuses.items() if s != "delivered"] == []
            sent = [sim_stats(stack, sim)["by_reference"] for sim in SIMS]
            assert {i: sum(s.get(i, 0) for s in sent) for i in during} == {i: 1 for i in during}
        finally:
            set_error_rate(stack, "sms-sim-mmg", 0.0)
            for name, value in (("mmg", 51), ("firetext", 49)):
                httpx.post(
                    f"{stack.url('delivery-sms')}/internal/providers/{name}",
                    json={"priority": value},
                    timeout=5,
                ).raise_for_status()

    log = (stack.log_dir / "delivery-sms.log").read_text(errors="replace")
    assert '"event": "delivery.sms.priority_changed"' in log
    assert not [n for n in used if n[1:] in log or "44" + n[1:] in log], "a phone number was logged"
