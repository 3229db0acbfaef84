"""Admin routes on a service's members, guest list, history and archiving (seed 004)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from notify_notifications.adapters.tables import guest_list, outbox, service_users
from notify_platform.db import Database
from sqlalchemy import select

from .admin_helpers import error, new_service, new_user

pytestmark = pytest.mark.integration


def _routing_keys(db: Database) -> list[str]:
    with db.engine.connect() as conn:
        return [r.routing_key for r in conn.execute(select(outbox.c.routing_key))]


def test_users_of_a_service(admin: TestClient) -> None:
    owner = new_user(admin)
    service = new_service(admin, owner)
    users = admin.get(f"/service/{service['id']}/users").json()["data"]
    assert [u["id"] for u in users] == [owner["id"]]
    assert users[0]["email_address"] == owner["email_address"]
    assert "manage_settings" in users[0]["permissions"]  # the seed's list of this service's permissions
    assert users[0]["permissions_by_service"][service["id"]] == users[0]["permissions"]
    assert "password" not in users[0] and "password_hash" not in users[0]
    assert error(admin.get(f"/service/{uuid.uuid4()}/users"), 404) == "No result found"


def test_add_user_with_the_seed_004_body(admin: TestClient, admin_db: Database) -> None:
    owner, joiner = new_user(admin), new_user(admin, name="John Smith")
    service = new_service(admin, owner)
    folders = [str(uuid.uuid4()), str(uuid.uuid4())]
    body = {
        "permissions": [{"permission": "send_messages"}, {"permission": "manage_templates"}],
        "folder_permissions": folders,
    }
    response = admin.post(f"/service/{service['id']}/users/{joiner['id']}", json=body)
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert data["id"] == service["id"] and data["name"] == service["name"]
    assert {"id": joiner["id"], "name": "John Smith"} in data["users"]
    with admin_db.engine.connect() as conn:
        row = conn.execute(
            select(service_users).where(service_users.c.user_id == uuid.UUID(joiner["id"]))
        ).one()
    assert row.permissions == ["send_texts", "send_emails", "send_letters", "manage_templates"]
    assert [str(f) for f in row.folder_permissions] == folders
    assert admin.get(f"/user/{joiner['id']}").json()["data"]["services"] == [service["id"]]


def test_add_user_refusals(admin: TestClient) -> None:
    owner, other = new_user(admin), new_user(admin)
    sid = new_service(admin, owner)["id"]
    path = f"/service/{sid}/users/{other['id']}"
    assert error(admin.post(path, json={}), 400) == {"permissions": ["Missing data for required field."]}
    assert error(admin.post(path, json={"permissions": [{"permission": "fly"}]}), 400) == {
        "permissions": ["Invalid permission: 'fly'"]
    }
    assert error(admin.post(path, json={"permissions": [], "folder_permissions": ["x"]}), 400)[
        "folder_permissions"
    ]
    assert error(admin.post(f"/service/{sid}/users/{uuid.uuid4()}", json={"permissions": []}), 404)
    assert error(admin.post(f"/service/{uuid.uuid4()}/users/{other['id']}", json={"permissions": []}), 404)
    assert error(admin.post(f"/service/{sid}/users/{owner['id']}", json={"permissions": []}), 400) == (
        f"User id: {owner['id']} already part of service id: {sid}"
    )


def test_remove_user(admin: TestClient) -> None:
    owner, other = new_user(admin), new_user(admin)
    sid = new_service(admin, owner)["id"]
    assert error(admin.delete(f"/service/{sid}/users/{owner['id']}"), 400) == (
        "Cannot remove the only user from a service"
    )
    assert error(admin.delete(f"/service/{sid}/users/{other['id']}"), 404) == "User not found in service"
    admin.post(f"/service/{sid}/users/{other['id']}", json={"permissions": ["view_activity"]})
    response = admin.delete(f"/service/{sid}/users/{owner['id']}")
    assert response.status_code == 204 and response.content == b""
    assert [u["id"] for u in admin.get(f"/service/{sid}/users").json()["data"]] == [other["id"]]


def test_guest_list_with_the_seed_004_examples(admin: TestClient, admin_db: Database) -> None:
    sid = new_service(admin)["id"]
    assert admin.get(f"/service/{sid}/guest-list").json() == {"email_addresses": [], "phone_numbers": []}
    body = {
        "email_addresses": ["test1@example.gov.uk", "test2@example.gov.uk"],
        "phone_numbers": ["+447700900123", "+447700900456"],
    }
    response = admin.put(f"/service/{sid}/guest-list", json=body)
    assert response.status_code == 204, response.text
    assert admin.get(f"/service/{sid}/guest-list").json() == body
    with admin_db.engine.connect() as conn:
        kinds = {
            r.recipient_type
            for r in conn.execute(select(guest_list).where(guest_list.c.service_id == uuid.UUID(sid)))
        }
    assert kinds == {"email", "mobile"}  # what the gateway's trial-mode check reads
    replaced = {"email_addresses": ["test@example.gov.uk"], "phone_numbers": []}
    assert admin.put(f"/service/{sid}/guest-list", json=replaced).status_code == 204
    assert admin.get(f"/service/{sid}/guest-list").json() == replaced


def test_guest_list_refusals(admin: TestClient) -> None:
    sid = new_service(admin)["id"]
    admin.put(
        f"/service/{sid}/guest-list", json={"email_addresses": ["keep@example.gov.uk"], "phone_numbers": []}
    )
    bad = {"email_addresses": ["fine@example.gov.uk"], "phone_numbers": ["not a number"]}
    assert error(admin.put(f"/service/{sid}/guest-list", json=bad), 400) == (
        'Invalid guest list: "not a number" is not a valid email address or phone number'
    )
    assert admin.get(f"/service/{sid}/guest-list").json()["email_addresses"] == ["keep@example.gov.uk"]
    assert error(admin.put(f"/service/{sid}/guest-list", json={"email_addresses": []}), 400) == {
        "phone_numbers": ["Missing data for required field."]
    }
    assert error(admin.get(f"/service/{uuid.uuid4()}/guest-list"), 404) == "No result found"
    empty = {"email_addresses": [], "phone_numbers": []}
    assert error(admin.put(f"/service/{uuid.uuid4()}/guest-list", json=empty), 404) == "No result found"


def _key(admin: TestClient, sid: str, user_id: str, name: str) -> None:
    response = admin.post(
        f"/service/{sid}/api-key", json={"name": name, "key_type": "normal", "created_by": user_id}
    )
    assert response.status_code == 201, response.text


def _template(admin: TestClient, sid: str, user_id: str, **extra: Any) -> dict[str, Any]:
    body = {
        "name": "Welcome",
        "template_type": "sms",
        "content": "Hi",
        "service": sid,
        "created_by": user_id,
        **extra,
    }
    response = admin.post(f"/service/{sid}/template", json=body)
    assert response.status_code == 201, response.text
    return response.json()["data"]  # type: ignore[no-any-return]


def test_history_has_service_key_and_template_versions(admin: TestClient) -> None:
    owner = new_user(admin)
    service = new_service(admin, owner)
    sid = service["id"]
    admin.post(f"/service/{sid}", json={"name": f"Renamed {uuid.uuid4().hex[:6]}"})
    _key(admin, sid, owner["id"], "API Key 1")
    template = _template(admin, sid, owner["id"])
    admin.post(f"/service/{sid}/template/{template['id']}", json={"content": "Hello"})
    history = admin.get(f"/service/{sid}/history").json()["data"]
    assert [v["version"] for v in history["service_history"]] == [1, 2]
    assert history["service_history"][0]["name"] == service["name"]
    assert [(k["name"], k["revoked_at"]) for k in history["api_key_history"]] == [("API Key 1", None)]
    assert [(t["id"], t["version"]) for t in history["template_history"]] == [
        (template["id"], 1),
        (template["id"], 2),
    ]
    assert error(admin.get(f"/service/{uuid.uuid4()}/history"), 404) == "No result found"


def test_archive_is_irreversible_and_frees_the_name(admin: TestClient, admin_db: Database) -> None:
    owner = new_user(admin)
    service = new_service(admin, owner)
    sid = service["id"]
    _key(admin, sid, owner["id"], "live")
    template = _template(admin, sid, owner["id"])
    response = admin.post(f"/service/{sid}/archive")
    assert response.status_code == 204 and response.content == b""
    archived = admin.get(f"/service/{sid}").json()["data"]
    assert archived["active"] is False
    assert archived["name"].startswith("_archived_") and archived["name"].endswith(service["name"])
    assert admin.get(f"/service/{sid}/template/{template['id']}").json()["data"]["archived"] is True
    keys = admin.get(f"/service/{sid}/api-keys").json()["apiKeys"]
    assert [k["expiry_date"] is not None for k in keys] == [True]
    keys_of = _routing_keys(admin_db)
    assert "api_key.changed.v1" in keys_of and "template.changed.v1" in keys_of
    # The name is free again; the archived service stays archived.
    assert new_service(admin, owner, name=service["name"])["name"] == service["name"]
    assert admin.post(f"/service/{sid}/archive").status_code == 204
    assert (
        error(admin.post(f"/service/{sid}", json={"active": True}), 400)
        == "Cannot update an archived service"
    )
    assert error(admin.post(f"/service/{uuid.uuid4()}/archive"), 404) == "No result found"
