"""Email end to end with the real ``notifications-python-client``: gateway → notifications → delivery-email →
SMTP sink → SES-like receipt → ``delivered`` / ``permanent-failure``; each message reaches SMTP exactly once."""

from __future__ import annotations

from typing import Any

import httpx
from notifications_python_client.notifications import NotificationsAPIClient
from notify_tools.launcher import RunningStack

from .helpers import eventually


def _sink_sends(stack: RunningStack, notification_id: str) -> int:
    stats = httpx.get(f"{stack.url('email-sink')}/stats", timeout=5).json()
    return int(stats["by_reference"].get(notification_id, 0))


def _send(stack: RunningStack, demo: dict[str, Any], to: str) -> dict[str, Any]:
    client = NotificationsAPIClient(demo["api_keys"]["normal"], base_url=stack.base_url)
    response = client.send_email_notification(
        email_address=to,
        template_id=demo["templates"]["email"],
        personalisation={"name": "Ada", "thing": "parcel"},
    )
    final = eventually(
        lambda: client.get_notification_by_id(response["id"]),
        lambda n: n["status"] not in {"created", "sending", "pending"},
        timeout=60,
    )
    return final


def test_email_sent_with_the_real_client_ends_delivered(stack: RunningStack, demo: dict[str, Any]) -> None:
    final = _send(stack, demo, "ada@example.com")
    assert final["status"] == "delivered", stack.tail("delivery-email")
    assert final["type"] == "email"
    assert final["subject"] == "Your parcel is ready"
    assert final["sent_at"] is not None and final["completed_at"] is not None
    assert _sink_sends(stack, final["id"]) == 1
    message = httpx.get(f"{stack.url('email-sink')}/messages/{final['id']}", timeout=5).json()
    assert message["content_type"] == "multipart/alternative"
    assert message["headers"]["Message-ID"].strip().startswith(f"<{final['id']}@")
    assert "Hello Ada</h2>" in message["parts"]["text/html"]
    assert "Bring ID" in message["parts"]["text/plain"]


def test_email_to_a_permanently_failing_address_ends_permanent_failure(
    stack: RunningStack, demo: dict[str, Any]
) -> None:
    final = _send(stack, demo, "perm-fail@example.com")
    assert final["status"] == "permanent-failure", stack.tail("delivery-email")
    assert _sink_sends(stack, final["id"]) == 1
