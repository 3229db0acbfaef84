"""API keys and templates through the gateway's admin routes: a new key of each type works at once with the real
client, and a template edit is what the public API serves within a second."""

from __future__ import annotations

import secrets
import time
from typing import Any

import pytest
from notifications_python_client.notifications import NotificationsAPIClient
from notify_tools.admin_client import AdminClient
from notify_tools.launcher import RunningStack


def test_keys_and_template_versions(stack: RunningStack, demo: dict[str, Any]) -> None:
    admin = AdminClient(stack.base_url, stack.admin_secret)
    sid = demo["service_id"]
    user_id = admin.get(f"/service/{sid}")["data"]["created_by"]
    for key_type in ("normal", "team", "test"):
        created = admin.post(
            f"/service/{sid}/api-key",
            {
                "name": f"Production API Key {key_type} {secrets.token_hex(2)}",
                "key_type": key_type,
                "created_by": user_id,
            },
        )
        client = NotificationsAPIClient(created["api_key"]["key"], base_url=stack.base_url)
        assert client.get_all_templates()["templates"]
    assert all("secret" not in k for k in admin.get(f"/service/{sid}/api-keys")["apiKeys"])

    public = NotificationsAPIClient(demo["api_keys"]["normal"], base_url=stack.base_url)
    template = admin.post(
        f"/service/{sid}/template",
        {"name": "Versioned", "template_type": "sms", "content": "one ((x))", "created_by": user_id},
    )["data"]
    tid = template["id"]
    assert public.get_template(tid)["body"] == "one ((x))"  # now cached by the gateway
    admin.post(f"/service/{sid}/template/{tid}", {"content": "two ((x))", "created_by": user_id})
    edited_at = time.monotonic()
    while public.get_template(tid)["body"] != "two ((x))":
        if time.monotonic() - edited_at > 1.0:
            pytest.fail("the gateway still served the old template after 1 s")
        time.sleep(0.05)
    assert public.get_template_version(tid, 1)["body"] == "one ((x))"
    assert [v["version"] for v in admin.get(f"/service/{sid}/template/{tid}/versions")["data"]] == [2, 1]
    preview = admin.get(f"/service/{sid}/template/{tid}/preview", {"x": "y"})
    assert preview["content"] == "two y"
    admin.close()
