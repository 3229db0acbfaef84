"""Daily limits at acceptance: the exact 429, test keys never counted, per channel."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from notifications_python_client.errors import HTTPError
from notifications_python_client.notifications import NotificationsAPIClient
from notify_tools.admin_client import AdminClient
from notify_tools.launcher import RunningStack


@pytest.fixture(scope="module")
def limited(stack: RunningStack) -> dict[str, Any]:
    """A live service allowed 2 texts a day, with a normal and a test key and one SMS template."""
    admin = AdminClient(stack.base_url, stack.admin_secret)
    suffix = secrets.token_hex(4)
    user = admin.post(
        "/user",
        {
            "name": "L",
            "email_address": f"limits-{suffix}@example.gov.uk",
            "password": secrets.token_urlsafe(12),
            "mobile_number": "07700900001",
        },
    )["data"]
    service = admin.post(
        "/service",
        {
            "name": f"Limited {suffix}",
            "user_id": user["id"],
            "created_by": user["id"],
            "email_message_limit": 5,
            "sms_message_limit": 2,
            "letter_message_limit": 5,
            "restricted": False,
        },
    )["data"]
    sid = service["id"]
    keys = {
        kind: f"k-{sid}-"
        + admin.post(f"/service/{sid}/api-key", {"name": kind, "key_type": kind, "created_by": user["id"]})[
            "data"
        ]
        for kind in ("normal", "test")
    }
    template = admin.post(
        f"/service/{sid}/template",
        {"name": "t", "template_type": "sms", "content": "Hi", "service": sid, "created_by": user["id"]},
    )["data"]["id"]
    admin.close()
    return {"keys": keys, "template": template}


def test_the_daily_limit_refuses_the_next_text_and_test_keys_are_not_counted(
    stack: RunningStack, limited: dict[str, Any]
) -> None:
    live = NotificationsAPIClient(limited["keys"]["normal"], base_url=stack.base_url)
    test = NotificationsAPIClient(limited["keys"]["test"], base_url=stack.base_url)
    for _ in range(3):
        test.send_sms_notification(phone_number="07700900123", template_id=limited["template"])
    for _ in range(2):
        live.send_sms_notification(phone_number="07700900123", template_id=limited["template"])
    with pytest.raises(HTTPError) as refused:
        live.send_sms_notification(phone_number="07700900123", template_id=limited["template"])
    assert refused.value.status_code == 429
    assert refused.value.message == [
        {"error": "TooManyRequestsError", "message": "Exceeded send limits (sms: 2) for today"}
    ]
    # Test keys carry on, and are never refused by the live counters.
    test.send_sms_notification(phone_number="07700900123", template_id=limited["template"])
