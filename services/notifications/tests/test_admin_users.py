"""Admin user routes (seed 000's UserApiClient): register, get, by email, update attributes, archive, permissions,
and sign-in codes sent through the platform's own send path."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from notify_notifications.adapters.tables import outbox, users, verify_codes
from notify_notifications.domain.verify_codes import new_sms_code
from notify_platform.db import Database
from sqlalchemy import delete, select, update

from .admin_helpers import error, new_service, new_user

pytestmark = pytest.mark.integration


def test_register_with_the_seed_000_call(admin: TestClient, admin_db: Database) -> None:
    email = f"jane-{uuid.uuid4().hex[:6]}@example.gov.uk"
    response = admin.post(
        "/user",
        json={
            "name": "Jane Smith",
            "email_address": email,
            "mobile_number": "07700900000",
            "password": "secure-password",
            "auth_type": "sms_auth",
        },
    )
    assert response.status_code == 201, response.text
    user = response.json()["data"]
    assert user["name"] == "Jane Smith" and user["state"] == "pending" and user["auth_type"] == "sms_auth"
    assert not {"password", "password_hash"} & set(user) and "secure-password" not in response.text
    with admin_db.engine.connect() as conn:
        stored = conn.execute(
            select(users.c.password_hash).where(users.c.id == uuid.UUID(user["id"]))
        ).scalar_one()
    assert stored.startswith("$argon2id$")
    assert admin.get(f"/user/{user['id']}").json()["data"] == user
    assert admin.post("/user/email", json={"email": email.upper()}).json()["data"]["id"] == user["id"]
    assert admin.get("/user/email", params={"email": email}).json()["data"]["id"] == user["id"]


def test_register_refusals(admin: TestClient) -> None:
    base = {
        "name": "N",
        "email_address": "n@example.gov.uk",
        "password": "long-enough",
        "mobile_number": "07700900001",
    }
    assert error(admin.post("/user", json={**base, "email_address": "nope"}), 400) == {
        "email_address": ["Not a valid email address"]
    }
    assert error(admin.post("/user", json={**base, "mobile_number": "12"}), 400)["mobile_number"][
        0
    ].startswith("Invalid phone number: ")
    assert error(admin.post("/user", json={**base, "name": " "}), 400) == {"name": ["Invalid name"]}
    assert error(admin.post("/user", json={**base, "password": "short"}), 400)["password"]
    assert error(admin.post("/user", json={**base, "mobile_number": None}), 400)["mobile_number"]
    assert error(admin.post("/user", json={"name": "N"}), 400)["password"] == [
        "Missing data for required field."
    ]
    taken = new_user(admin)
    assert error(admin.post("/user", json={**base, "email_address": taken["email_address"]}), 400) == {
        "email_address": ["Duplicate email address"]
    }
    assert error(admin.get(f"/user/{uuid.uuid4()}"), 404) == "No result found"
    assert error(admin.post("/user/email", json={"email": "nobody@example.gov.uk"}), 404) == "No result found"


def test_update_attributes_with_the_seed_000_call(admin: TestClient) -> None:
    user = new_user(admin)
    response = admin.post(f"/user/{user['id']}", json={"name": "Jane Doe", "mobile_number": "07700900001"})
    assert response.status_code == 200, response.text
    assert response.json()["data"]["name"] == "Jane Doe"
    assert response.json()["data"]["mobile_number"] == "07700900001"
    every = {
        "email_address": f"new-{uuid.uuid4().hex[:6]}@example.gov.uk",
        "auth_type": "email_auth",
        "updated_by": user["id"],
        "current_session_id": str(uuid.uuid4()),
        "email_access_validated_at": "2026-01-01T00:00:00.000000Z",
        "take_part_in_research": False,
        "receives_new_features_email": False,
        "platform_admin": False,
    }
    got = admin.post(f"/user/{user['id']}", json=every).json()["data"]
    for key in ("email_address", "auth_type", "current_session_id", "email_access_validated_at"):
        assert got[key] == every[key], key
    assert got["take_part_in_research"] is False and got["receives_new_features_email"] is False


def test_update_refusals(admin: TestClient) -> None:
    user = new_user(admin)
    path = f"/user/{user['id']}"
    assert error(admin.post(path, json={"state": "active"}), 400) == {"_schema": ["Unknown field name state"]}
    assert error(admin.post(path, json={"platform_admin": True}), 400) == {
        "platform_admin": ["Cannot set platform_admin to True"]
    }
    assert error(admin.post(path, json={"email_address": "bad"}), 400) == {
        "email_address": ["Not a valid email address"]
    }
    assert error(admin.post(path, json={"auth_type": "magic"}), 400)["auth_type"]
    assert error(admin.post(path, json={"take_part_in_research": "perhaps"}), 400)["take_part_in_research"]
    assert error(admin.post(path, json={"mobile_number": None}), 400) == {
        "mobile_number": ["Mobile number must be set if auth_type is set to sms_auth"]
    }
    assert error(admin.post(path, json={"updated_by": str(uuid.uuid4())}), 400)["updated_by"]
    other = new_user(admin)
    assert error(admin.post(path, json={"email_address": other["email_address"].upper()}), 400) == {
        "email_address": ["Duplicate email address"]
    }
    assert error(admin.post(f"/user/{uuid.uuid4()}", json={"name": "x"}), 404) == "No result found"


def test_archive_user(admin: TestClient) -> None:
    owner, member = new_user(admin), new_user(admin)
    service = new_service(admin, owner)
    admin.post(f"/service/{service['id']}/users/{member['id']}", json={"permissions": ["send_messages"]})
    assert error(admin.post(f"/user/{uuid.uuid4()}/archive"), 404) == "No result found"
    response = admin.post(f"/user/{member['id']}/archive")
    assert response.status_code == 204, response.text
    archived = admin.get(f"/user/{member['id']}").json()["data"]
    assert archived["name"] == "Archived user" and archived["state"] == "inactive"
    assert archived["mobile_number"] is None and member["email_address"] not in archived["email_address"]
    assert archived["services"] == [] and archived["platform_admin"] is False
    assert error(admin.post(f"/user/{owner['id']}/archive"), 400) == "User cannot be removed from a service"


def test_set_permissions_on_a_service(admin: TestClient) -> None:
    owner = new_user(admin)
    sid = new_service(admin, owner)["id"]
    path = f"/user/{owner['id']}/service/{sid}/permission"
    response = admin.post(
        path, json={"permissions": [{"permission": "view_activity"}], "folder_permissions": []}
    )
    assert response.status_code == 204, response.text
    assert admin.get(f"/user/{owner['id']}").json()["data"]["permissions"] == {sid: ["view_activity"]}
    assert error(admin.post(path, json={"permissions": ["nope"]}), 400) == {
        "permissions": ["Invalid permission: 'nope'"]
    }
    assert error(admin.post(f"/user/{uuid.uuid4()}/service/{sid}/permission", json={"permissions": []}), 404)


def _requests(db: Database) -> list[dict[str, Any]]:
    with db.engine.connect() as conn:
        rows = conn.execute(
            select(outbox.c.body)
            .where(outbox.c.routing_key == "notification.requested.v1")
            .order_by(outbox.c.id)
        ).all()
    return [json.loads(r.body)["payload"] for r in rows]


def test_sms_code_is_sent_through_the_send_path_and_works_once(admin: TestClient, admin_db: Database) -> None:
    user = new_user(admin)
    before = len(_requests(admin_db))
    response = admin.post(f"/user/{user['id']}/sms-code", json={"to": None})
    assert response.status_code == 204, response.text
    sent = _requests(admin_db)[before:]
    assert len(sent) == 1 and sent[0]["notification_type"] == "sms"
    assert sent[0]["normalised_recipient"] == "447700900123" and sent[0]["personalisation"] == {}
    code = re.match(r"(\d{5}) is your Notify security code", sent[0]["body"]).group(1)  # type: ignore[union-attr]
    with admin_db.engine.connect() as conn:
        stored = conn.execute(
            select(verify_codes.c.code_hash).where(verify_codes.c.user_id == uuid.UUID(user["id"]))
        )
        assert all(code not in row.code_hash for row in stored)
    verify = f"/user/{user['id']}/verify/code"
    assert error(
        admin.post(verify, json={"code": "00000" if code != "00000" else "11111", "code_type": "sms"}), 404
    ) == ("Code not found")
    assert admin.get(f"/user/{user['id']}").json()["data"]["failed_login_count"] == 1
    assert admin.post(verify, json={"code": code, "code_type": "sms"}).status_code == 204
    signed_in = admin.get(f"/user/{user['id']}").json()["data"]
    assert (
        signed_in["failed_login_count"] == 0 and signed_in["current_session_id"] and signed_in["logged_in_at"]
    )
    assert error(admin.post(verify, json={"code": code, "code_type": "sms"}), 400) == "Code has expired"
    assert error(admin.post(verify, json={"code": code, "code_type": "email"}), 404) == "Code not found"
    assert error(admin.post(verify, json={"code": code, "code_type": "fax"}), 400)["code_type"]


def test_email_code_link_expiry_and_limits(admin: TestClient, admin_db: Database) -> None:
    user = new_user(admin)
    before = len(_requests(admin_db))
    body = {"to": None, "email_auth_link_host": "https://admin.example.gov.uk", "next": "/services/x"}
    assert admin.post(f"/user/{user['id']}/email-code", json=body).status_code == 204
    sent = _requests(admin_db)[before:]
    assert sent[0]["notification_type"] == "email" and sent[0]["recipient"] == user["email_address"]
    link = re.search(
        r"https://admin\.example\.gov\.uk/email-auth/([0-9a-f-]{36})\?next=%2Fservices%2Fx", sent[0]["body"]
    )
    assert link is not None
    with admin_db.unit_of_work() as conn:
        conn.execute(
            update(verify_codes)
            .where(verify_codes.c.user_id == uuid.UUID(user["id"]))
            .values(expiry_datetime=verify_codes.c.created_at)
        )
    assert error(
        admin.post(f"/user/{user['id']}/verify/code", json={"code": link.group(1), "code_type": "email"}), 400
    ) == ("Code has expired")
    with admin_db.unit_of_work() as conn:
        conn.execute(delete(verify_codes).where(verify_codes.c.user_id == uuid.UUID(user["id"])))
    before = len(_requests(admin_db))
    for _ in range(7):
        assert admin.post(f"/user/{user['id']}/email-code", json={}).status_code == 204
    assert len(_requests(admin_db)) - before == 5  # at most five live codes; further requests quietly ignored
    assert error(admin.post(f"/user/{uuid.uuid4()}/sms-code", json={}), 404) == "No result found"
    assert error(admin.post(f"/user/{user['id']}/sms-code", json={"to": "not a phone"}), 400)["to"]


def test_after_ten_failures_no_code_is_found(admin: TestClient, admin_db: Database) -> None:
    user = new_user(admin)
    admin.post(f"/user/{user['id']}/sms-code", json={})
    code = _requests(admin_db)[-1]["body"][:5]
    with admin_db.unit_of_work() as conn:
        conn.execute(update(users).where(users.c.id == uuid.UUID(user["id"])).values(failed_login_count=10))
    assert error(
        admin.post(f"/user/{user['id']}/verify/code", json={"code": code, "code_type": "sms"}), 404
    ) == ("Code not found")


def test_sms_codes_never_repeat_a_digit_next_to_itself() -> None:
    for _ in range(200):
        code = new_sms_code()
        assert len(code) == 5 and code.isdigit()
        assert all(a != b for a, b in zip(code, code[1:], strict=False))


def test_password_checks_and_changes(admin: TestClient) -> None:
    user = new_user(admin, password="first-password")
    check = f"/user/{user['id']}/verify/password"
    assert admin.post(check, json={"password": "first-password"}).status_code == 204
    assert error(admin.post(check, json={"password": "wrong"}), 400) == {"password": ["Incorrect password"]}
    assert admin.get(f"/user/{user['id']}").json()["data"]["failed_login_count"] == 1
    assert error(admin.post(check, json={}), 400) == {"password": ["Required field missing data"]}
    changed = admin.post(f"/user/{user['id']}/update-password", json={"_password": "second-password"})
    assert changed.status_code == 200 and "password" not in changed.json()["data"]
    assert admin.post(check, json={"password": "second-password"}).status_code == 204
    assert error(admin.post(f"/user/{user['id']}/update-password", json={"_password": "short"}), 400)[
        "_password"
    ]
    reset = admin.post(f"/user/{user['id']}/reset-failed-login-count").json()["data"]
    assert reset["failed_login_count"] == 0
    assert admin.post(f"/user/{user['id']}/activate").json()["data"]["state"] == "active"
    assert error(admin.post(f"/user/{user['id']}/activate"), 400) == "User already active"
    assert (
        error(admin.post(f"/user/{uuid.uuid4()}/verify/password", json={"password": "x"}), 404)
        == "No result found"
    )
    assert error(admin.post(f"/user/{uuid.uuid4()}/activate"), 404) == "No result found"


def test_find_users_by_part_of_their_email(admin: TestClient) -> None:
    tag = uuid.uuid4().hex[:8]
    user = new_user(admin, email_address=f"findme-{tag}@example.gov.uk")
    found = admin.post("/user/find-users-by-email", json={"email": f"ME-{tag.upper()}"}).json()["data"]
    assert found == [
        {
            "id": user["id"],
            "name": user["name"],
            "email_address": user["email_address"],
            "mobile_number": "07700900123",
        }
    ]
    assert admin.post("/user/find-users-by-email", json={"email": "%"}).json()["data"] == []
    assert error(admin.post("/user/find-users-by-email", json={}), 400) == {
        "email": ["Missing data for required field."]
    }


def test_a_changed_email_or_mobile_is_told_to_the_user_when_someone_else_changed_it(
    admin: TestClient, admin_db: Database
) -> None:
    user, manager = new_user(admin), new_user(admin)
    before = len(_requests(admin_db))
    admin.post(f"/user/{user['id']}", json={"name": "Self service"})  # no updated_by: nothing sent
    new_email = f"moved-{uuid.uuid4().hex[:6]}@example.gov.uk"
    body = {"email_address": new_email, "mobile_number": "07700900456", "updated_by": manager["id"]}
    assert admin.post(f"/user/{user['id']}", json=body).status_code == 200
    sent = _requests(admin_db)[before:]
    assert sorted((p["notification_type"], p["recipient"]) for p in sent) == [
        ("email", new_email),
        ("sms", "07700900456"),
    ]


def test_organisations_and_services_of_a_user(admin: TestClient) -> None:
    user = new_user(admin)
    live = new_service(admin, user, restricted=False)
    archived = new_service(admin, user)
    admin.post(f"/service/{archived['id']}/archive")
    answer = admin.get(f"/user/{user['id']}/organisations-and-services")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "organisations": [],
        "services": [{"id": live["id"], "name": live["name"], "restricted": False, "organisation": None}],
    }
    assert error(admin.get(f"/user/{uuid.uuid4()}/organisations-and-services"), 404) == "No result found"
