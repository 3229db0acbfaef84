"""The admin service routes through the gateway (admin JWT), with seed 004's examples; archiving a service stops its
keys at the gateway within a second."""

from __future__ import annotations

import secrets
import time
import uuid
from typing import Any

import pytest
from notifications_python_client.errors import HTTPError
from notifications_python_client.notifications import NotificationsAPIClient
from notify_tools.admin_client import AdminApiError, AdminClient
from notify_tools.launcher import RunningStack

from .helpers import eventually


def _user(admin: AdminClient) -> dict[str, Any]:
    return admin.post(  # type: ignore[no-any-return]
        "/user",
        {
            "name": "Service Tester",
            "email_address": f"svc-{secrets.token_hex(4)}@example.gov.uk",
            "password": secrets.token_urlsafe(16),
            "mobile_number": "07700900111",
        },
    )["data"]


def test_admin_routes_need_the_admin_jwt(stack: RunningStack) -> None:
    wrong = AdminClient(stack.base_url, "not-the-secret-at-all")
    with pytest.raises(AdminApiError) as refused:
        wrong.get("/service")
    assert refused.value.status_code == 403
    assert refused.value.body == {
        "result": "error",
        "message": {"token": ["Invalid token: API key not found"]},
    }
    wrong.close()


def test_service_lifecycle_with_the_seed_examples(admin: AdminClient) -> None:
    user = _user(admin)
    tag = secrets.token_hex(3)
    created = admin.post(
        "/service",
        {
            "name": f"New Service {tag}",
            "user_id": user["id"],
            "organisation_type": "central",
            "active": True,
            "restricted": True,
            "permissions": ["email", "sms"],
        },
    )["data"]
    sid = created["id"]
    assert created["permissions"] == ["email", "sms"]
    assert [s["id"] for s in admin.get("/service", {"user_id": user["id"]})["data"]] == [sid]
    found = admin.get("/service/find-services-by-name", {"service_name": f"service {tag}"})["data"]
    assert [s["id"] for s in found] == [sid]
    updated = admin.post(
        f"/service/{sid}",
        {
            "name": f"Updated Service Name {tag}",
            "restricted": False,
            "email_branding": "branding-uuid",
            "letter_branding": "letter-branding-uuid",
        },
    )["data"]
    assert updated["restricted"] is False and updated["letter_branding"] == "letter-branding-uuid"
    detailed = admin.get(f"/service/{sid}", {"detailed": "True", "today_only": "True"})["data"]
    assert detailed["statistics"]["sms"] == {"requested": 0, "delivered": 0, "failed": 0}
    assert set(admin.get(f"/service/{sid}/statistics")["data"]) == {"sms", "email", "letter"}
    assert admin.get(f"/service/{sid}/notifications/monthly", {"year": 2025})["data"]["2025-04"]
    history = admin.get(f"/service/{sid}/history")["data"]
    assert [v["version"] for v in history["service_history"]] == [1, 2]

    joiner = _user(admin)
    added = admin.post(
        f"/service/{sid}/users/{joiner['id']}",
        {
            "permissions": [{"permission": "send_messages"}, {"permission": "manage_templates"}],
            "folder_permissions": [str(uuid.uuid4())],
        },
    )["data"]
    assert {"id": joiner["id"], "name": joiner["name"]} in added["users"]
    assert len(admin.get(f"/service/{sid}/users")["data"]) == 2
    assert admin.delete(f"/service/{sid}/users/{joiner['id']}") is None
    with pytest.raises(AdminApiError) as last:
        admin.delete(f"/service/{sid}/users/{user['id']}")
    assert last.value.status_code == 400

    guests = {"email_addresses": ["test@example.gov.uk"], "phone_numbers": ["+447700900123"]}
    assert admin.put(f"/service/{sid}/guest-list", guests) is None
    assert admin.get(f"/service/{sid}/guest-list") == guests

    with pytest.raises(AdminApiError) as unknown:
        admin.get(f"/service/{uuid.uuid4()}")
    assert unknown.value.status_code == 404
    assert unknown.value.body == {"result": "error", "message": "No result found"}


def test_archiving_stops_the_services_keys_within_a_second(admin: AdminClient, stack: RunningStack) -> None:
    user = _user(admin)
    sid = admin.post("/service", {"name": f"To archive {secrets.token_hex(3)}", "user_id": user["id"]})[
        "data"
    ]["id"]
    secret = admin.post(
        f"/service/{sid}/api-key", {"name": "k", "key_type": "normal", "created_by": user["id"]}
    )["data"]
    client = NotificationsAPIClient(f"k-{sid}-{secret}", base_url=stack.base_url)
    client.get_all_templates()  # the gateway now caches the service and its keys
    admin.post(f"/service/{sid}/archive")
    archived_at = time.monotonic()
    while True:
        try:
            client.get_all_templates()
        except HTTPError as exc:
            assert exc.status_code == 403
            break
        if time.monotonic() - archived_at > 1.0:
            pytest.fail("a key of an archived service still worked after 1 s")
        time.sleep(0.05)
    assert admin.get(f"/service/{sid}")["data"]["active"] is False


def test_service_and_template_reads_are_cached_and_dropped_on_change(
    admin: AdminClient, stack: RunningStack
) -> None:
    import redis

    user = _user(admin)
    sid = admin.post("/service", {"name": f"Cached {secrets.token_hex(3)}", "user_id": user["id"]})["data"][
        "id"
    ]
    template = admin.post(
        f"/service/{sid}/template",
        {"name": "T", "template_type": "sms", "content": "one", "created_by": user["id"]},
    )["data"]
    store = redis.Redis.from_url(stack.env["REDIS_URL"])
    key = f"{stack.env['REDIS_PREFIX']}admin-cache:service-{sid}"

    def read_both() -> int:
        # The change events of the creation arrive a moment later and drop the entries once; read until both stay.
        admin.get(f"/service/{sid}")
        admin.get(f"/service/{sid}/template/{template['id']}")
        return int(store.hlen(key))

    assert eventually(read_both, lambda n: n == 2, timeout=5) == 2
    renamed = f"Renamed {secrets.token_hex(3)}"
    admin.post(f"/service/{sid}", {"name": renamed})
    assert admin.get(f"/service/{sid}")["data"]["name"] == renamed
    admin.post(f"/service/{sid}/template/{template['id']}", {"content": "two"})
    assert admin.get(f"/service/{sid}/template/{template['id']}")["data"]["content"] == "two"
    store.close()
