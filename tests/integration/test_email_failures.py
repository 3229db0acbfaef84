"""Email failure classes through the real SMTP sink: retried SMTP errors, retries running out, a permanent SMTP
refusal, bounces; every outcome comes back to the real client, and nothing reaches the relay twice.

The stack runs with DELIVERY_RETRY_DELAYS=1,1,2 (three retries), see conftest.py.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from notifications_python_client.notifications import NotificationsAPIClient
from notify_tools.launcher import RunningStack

from .helpers import eventually

RETRIES = 3


def _send(stack: RunningStack, demo: dict[str, Any], to: str) -> dict[str, Any]:
    client = NotificationsAPIClient(demo["api_keys"]["normal"], base_url=stack.base_url)
    response = client.send_email_notification(
        email_address=to,
        template_id=demo["templates"]["email"],
        personalisation={"name": "Ada", "thing": "x"},
    )
    return eventually(  # type: ignore[no-any-return]
        lambda: client.get_notification_by_id(response["id"]),
        lambda n: n["status"] not in {"created", "sending", "pending"},
        timeout=60,
    )


def _sink(stack: RunningStack, notification_id: str) -> tuple[int, int]:
    """(messages accepted, attempts refused) at the sink for one notification."""
    stats = httpx.get(f"{stack.url('email-sink')}/stats", timeout=5).json()
    return (
        int(stats["by_reference"].get(notification_id, 0)),
        int(stats["refused_by_reference"].get(notification_id, 0)),
    )


@pytest.mark.parametrize(
    ("to", "status", "accepted", "refused"),
    [
        ("smtp-busy-2@example.com", "delivered", 1, 2),  # retry, then success
        ("smtp-down@example.com", "technical-failure", 0, 1 + RETRIES),  # retries exhausted
        ("smtp-reject@example.com", "technical-failure", 0, 1),  # permanent refusal: no retry
        ("temp-fail@example.com", "temporary-failure", 1, 0),  # soft bounce receipt
        ("complaint@example.com", "delivered", 1, 0),  # a complaint leaves the status alone
    ],
)
def test_each_failure_class_ends_in_its_status(
    stack: RunningStack, demo: dict[str, Any], to: str, status: str, accepted: int, refused: int
) -> None:
    final = _send(stack, demo, to)
    assert final["status"] == status, stack.tail("delivery-email")
    assert _sink(stack, final["id"]) == (accepted, refused)
