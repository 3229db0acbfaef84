"""Senders made through the admin API are usable by the public API within a second (the change event drops the
gateway's cached service)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any

from notifications_python_client.errors import HTTPError
from notifications_python_client.notifications import NotificationsAPIClient
from notify_tools.admin_client import AdminClient
from notify_tools.launcher import RunningStack


def within_a_second(send: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    deadline = time.monotonic() + 1.0
    while True:
        try:
            return send()
        except HTTPError as exc:
            if exc.status_code != 400 or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_new_senders_are_usable_at_once(stack: RunningStack, demo: dict[str, Any]) -> None:
    admin = AdminClient(stack.base_url, stack.admin_secret)
    sid = demo["service_id"]
    client = NotificationsAPIClient(demo["api_keys"]["test"], base_url=stack.base_url)
    client.get_all_templates()  # the gateway now caches the service
    address = f"reply-{secrets.token_hex(3)}@example.gov.uk"
    reply_to = admin.post(f"/service/{sid}/email-reply-to", {"email_address": address, "is_default": True})[
        "data"
    ]
    sent = within_a_second(
        lambda: client.send_email_notification(
            email_address="someone@example.gov.uk",
            template_id=demo["templates"]["email"],
            personalisation={"name": "Ada", "thing": "licence"},
            email_reply_to_id=reply_to["id"],
        )
    )
    assert sent["id"]
    sender = admin.post(f"/service/{sid}/sms-sender", {"sms_sender": "DEMO", "is_default": False})
    sent_sms = within_a_second(
        lambda: client.send_sms_notification(
            phone_number="07700900123",
            template_id=demo["templates"]["sms"],
            personalisation={"name": "Ada", "reference": "R1"},
            sms_sender_id=sender["id"],
        )
    )
    assert sent_sms["id"]
    assert [s["sms_sender"] for s in admin.get(f"/service/{sid}/sms-sender")][-1] == "DEMO"
    admin.close()
