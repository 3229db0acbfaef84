"""A new key works at once and a revoked key stops working within a second, though the gateway caches keys."""

from __future__ import annotations

import secrets
import time
from typing import Any

import pytest
from notifications_python_client.errors import HTTPError
from notifications_python_client.notifications import NotificationsAPIClient
from notify_tools.admin_client import AdminClient
from notify_tools.launcher import RunningStack


def test_revoked_key_is_refused_within_a_second(stack: RunningStack, demo: dict[str, Any]) -> None:
    admin = AdminClient(stack.base_url, stack.admin_secret)
    sid = demo["service_id"]
    # Prime the gateway's cache of this service's keys before the new key exists.
    NotificationsAPIClient(demo["api_keys"]["normal"], base_url=stack.base_url).get_all_templates()
    name = f"short-lived-{secrets.token_hex(3)}"
    user_id = admin.get(f"/service/{sid}")["data"]["created_by"]
    secret = admin.post(
        f"/service/{sid}/api-key", {"name": name, "key_type": "normal", "created_by": user_id}
    )["data"]
    key_id = next(k["id"] for k in admin.get(f"/service/{sid}/api-keys")["apiKeys"] if k["name"] == name)
    client = NotificationsAPIClient(f"{name}-{sid}-{secret}", base_url=stack.base_url)
    client.get_all_templates()  # works at once: the cached keys predate it, so the gateway looks again

    admin.post(f"/service/{sid}/api-key/revoke/{key_id}", {"created_by": user_id})
    revoked_at = time.monotonic()
    while True:
        try:
            client.get_all_templates()
        except HTTPError as exc:
            assert exc.status_code == 403
            assert exc.message == [{"error": "AuthError", "message": "Invalid token: API key revoked"}]
            break
        if time.monotonic() - revoked_at > 1.0:
            pytest.fail("the revoked key still worked after 1 s")
        time.sleep(0.05)
    admin.close()
