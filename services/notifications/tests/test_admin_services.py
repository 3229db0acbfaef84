"""Admin service routes (seed 004, seed 000's ServiceAPIClient): create, get, update, list, find by name."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from notify_notifications.adapters.senders import KINDS
from notify_notifications.adapters.tables import notifications, outbox, sms_senders
from notify_platform.db import Database
from sqlalchemy import func, select

from .admin_helpers import error as _error
from .admin_helpers import new_service, new_user

pytestmark = pytest.mark.integration


def test_create_with_the_seed_004_body(admin: TestClient) -> None:
    user = new_user(admin)
    body = {
        "name": "New Service",
        "user_id": user["id"],
        "organisation_type": "central",
        "active": True,
        "restricted": True,
        "permissions": ["email", "sms"],
    }
    response = admin.post("/service", json=body)
    assert response.status_code == 201, response.text
    service = response.json()["data"]
    assert service["name"] == "New Service" and service["active"] is True and service["restricted"] is True
    assert service["organisation_type"] == "central" and service["permissions"] == ["email", "sms"]
    assert service["created_at"].endswith("Z") and service["created_by"] == user["id"]
    member = admin.get(f"/user/{user['id']}").json()["data"]
    assert service["id"] in member["services"]


def test_create_with_the_seed_000_client_call(admin: TestClient, admin_db: Database) -> None:
    user = new_user(admin)
    response = admin.post(
        "/service",
        json={
            "service_name": "My Service",
            "organisation_type": "central",
            "email_message_limit": 1000,
            "international_sms_message_limit": 100,
            "sms_message_limit": 1000,
            "letter_message_limit": 500,
            "restricted": True,
            "user_id": user["id"],
        },
    )
    assert response.status_code == 201, response.text
    service = response.json()["data"]
    assert service["name"] == "My Service" and service["letter_message_limit"] == 500
    assert sorted(service["permissions"]) == sorted(
        ["sms", "email", "letter", "international_sms", "international_letters"]
    )
    with admin_db.engine.connect() as conn:
        senders = conn.execute(
            select(sms_senders).where(sms_senders.c.service_id == uuid.UUID(service["id"]))
        ).all()
    assert [(s.sms_sender, s.is_default) for s in senders] == [("GOVUK", True)]


def test_create_refusals(admin: TestClient) -> None:
    user = new_user(admin)
    assert _error(admin.post("/service", json={"name": "x"}), 400) == {
        "user_id": ["Missing data for required field."]
    }
    missing_user = {"name": "Nobody's", "user_id": str(uuid.uuid4())}
    assert _error(admin.post("/service", json=missing_user), 404) == "No result found"
    taken = new_service(admin, user)
    assert _error(
        admin.post("/service", json={"name": taken["name"].upper(), "user_id": user["id"]}), 400
    ) == {"name": [f"Duplicate service name '{taken['name'].upper()}'"]}
    bad = {"name": "Bad perms", "user_id": user["id"], "permissions": ["email", "fax"]}
    assert (
        "Invalid Service Permission: 'fax'" in _error(admin.post("/service", json=bad), 400)["permissions"][0]
    )
    bad_org = {"name": "Bad org", "user_id": user["id"], "organisation_type": "pirates"}
    assert "organisation_type" in _error(admin.post("/service", json=bad_org), 400)
    negative = {"name": "Negative", "user_id": user["id"], "sms_message_limit": -1}
    assert "sms_message_limit" in _error(admin.post("/service", json=negative), 400)
    assert "body" in _error(
        admin.post("/service", content=b"not json", headers={"content-type": "application/json"}), 400
    )


def test_get_and_unknown_ids(admin: TestClient) -> None:
    service = new_service(admin)
    got = admin.get(f"/service/{service['id']}").json()["data"]
    assert got == service
    assert _error(admin.get(f"/service/{uuid.uuid4()}"), 404) == "No result found"
    assert _error(admin.get("/service/not-a-uuid"), 400)


def test_update_with_the_seed_examples(admin: TestClient, admin_db: Database) -> None:
    service = new_service(admin)
    sid = service["id"]
    response = admin.post(f"/service/{sid}", json={"name": "Updated Name", "email_branding": "govuk"})
    assert response.status_code == 200, response.text
    assert response.json()["data"]["name"] == "Updated Name"
    assert response.json()["data"]["email_branding"] == "govuk"
    body = {
        "name": "Updated Service Name",
        "restricted": False,
        "email_branding": "branding-uuid",
        "letter_branding": "letter-branding-uuid",
    }
    updated = admin.post(f"/service/{sid}", json=body).json()["data"]
    assert {k: updated[k] for k in body} == body
    assert updated["email_sender_local_part"] == "updated.service.name"
    with admin_db.engine.connect() as conn:
        announced = conn.execute(
            select(func.count()).select_from(outbox).where(outbox.c.routing_key == "service.changed.v1")
        ).scalar_one()
    assert announced >= 2


def test_update_takes_every_attribute_seed_000_allows(admin: TestClient, admin_db: Database) -> None:
    service = new_service(admin)
    sid = service["id"]
    body = {
        "active": True,
        "billing_contact_email_addresses": "billing@example.gov.uk",
        "billing_contact_names": "Billing Team",
        "billing_reference": "REF-1",
        "confirmed_email_sender_name": True,
        "contact_link": "https://example.gov.uk/contact",
        "email_branding": None,
        "free_sms_fragment_limit": 150000,
        "go_live_at": "2026-01-02T03:04:05.000000Z",
        "letter_branding": None,
        "letter_contact_block": "The Office\nLondon",
        "email_message_limit": 5000,
        "name": f"All attributes {uuid.uuid4().hex[:6]}",
        "notes": "a note",
        "organisation_type": "local",
        "permissions": ["email", "sms", "letter", "inbound_sms"],
        "prefix_sms": False,
        "rate_limit": 100,
        "reply_to_email_address": "reply@example.gov.uk",
        "restricted": True,
        "sms_sender": "MYSERVICE",
        "volume_email": 10,
        "volume_letter": 20,
        "volume_sms": 30,
        "created_by": service["created_by"],
    }
    response = admin.post(f"/service/{sid}", json=body)
    assert response.status_code == 200, response.text
    got = response.json()["data"]
    for key in set(body) - {
        "letter_contact_block",
        "reply_to_email_address",
        "sms_sender",
        "created_by",
        "permissions",
    }:
        assert got[key] == body[key], key
    assert got["permissions"] == sorted(body["permissions"])
    assert len(admin.get(f"/service/{sid}/history").json()["data"]["service_history"]) == 2
    # The three sender attributes become the service's default senders.
    service_id = uuid.UUID(sid)
    with admin_db.engine.connect() as conn:
        defaults = [
            conn.execute(
                select(table.c[column]).where(table.c.service_id == service_id, table.c.is_default.is_(True))
            ).scalar_one()
            for table, column in KINDS.values()
        ]
    assert defaults == ["MYSERVICE", "reply@example.gov.uk", "The Office\nLondon"]


def test_update_refusals(admin: TestClient) -> None:
    service = new_service(admin)
    sid = service["id"]
    assert _error(admin.post(f"/service/{sid}", json={"sms_message_limit": 5}), 400) == {
        "sms_message_limit": ["Unknown field name sms_message_limit"]
    }
    assert _error(admin.post(f"/service/{sid}", json={"permissions": ["email", "email"]}), 400) == {
        "permissions": ["Duplicate Service Permission: ['email']"]
    }
    assert "rate_limit" in _error(admin.post(f"/service/{sid}", json={"rate_limit": "lots"}), 400)
    assert "sms_sender" in _error(admin.post(f"/service/{sid}", json={"sms_sender": "A" * 12}), 400)
    assert _error(admin.post(f"/service/{sid}", json={"reply_to_email_address": "nope"}), 400) == {
        "reply_to_email_address": ["Not a valid email address"]
    }
    other = new_service(admin)
    assert _error(admin.post(f"/service/{sid}", json={"name": other["name"]}), 400) == {
        "name": [f"Duplicate service name '{other['name']}'"]
    }
    assert _error(admin.post(f"/service/{uuid.uuid4()}", json={"name": "x"}), 404) == "No result found"


def test_list_filters(admin: TestClient) -> None:
    user = new_user(admin)
    mine = new_service(admin, user)
    inactive = new_service(admin, user, active=False)
    everyone = admin.get("/service").json()["data"]
    assert {mine["id"], inactive["id"]} <= {s["id"] for s in everyone}
    only_mine = admin.get("/service", params={"user_id": user["id"]}).json()["data"]
    assert [s["id"] for s in only_mine] == [mine["id"], inactive["id"]]
    active_mine = admin.get("/service", params={"user_id": user["id"], "only_active": "True"}).json()["data"]
    assert [s["id"] for s in active_mine] == [mine["id"]]
    assert _error(admin.get("/service", params={"start_date": "yesterday"}), 400)["start_date"]
    assert _error(admin.get("/service", params={"start_date": "2026-01-02", "end_date": "2026-01-01"}), 400)


def _notify(db: Database, service_id: str, *rows: tuple[str, str, str]) -> None:
    """Store notifications ``(channel, status, key_type)`` created now."""
    now = datetime.now(UTC)
    with db.unit_of_work() as conn:
        for channel, status, key_type in rows:
            conn.execute(
                notifications.insert().values(
                    id=uuid.uuid4(),
                    service_id=uuid.UUID(service_id),
                    template_id=uuid.uuid4(),
                    template_version=1,
                    notification_type=channel,
                    key_type=key_type,
                    recipient="x",
                    normalised_recipient="x",
                    status=status,
                    body="b",
                    created_at=now,
                )
            )


def test_detailed_list_and_get_carry_statistics(admin: TestClient, admin_db: Database) -> None:
    user = new_user(admin)
    service = new_service(admin, user)
    _notify(
        admin_db,
        service["id"],
        ("sms", "delivered", "normal"),
        ("sms", "sending", "normal"),
        ("email", "delivered", "test"),
    )
    listed = admin.get("/service", params={"user_id": user["id"], "detailed": "True"}).json()["data"]
    assert listed[0]["statistics"]["sms"] == {"requested": 2, "delivered": 1, "failed": 0}
    assert listed[0]["statistics"]["email"] == {"requested": 1, "delivered": 1, "failed": 0}
    without_test = admin.get(
        "/service", params={"user_id": user["id"], "detailed": "True", "include_from_test_key": "False"}
    ).json()["data"]
    assert without_test[0]["statistics"]["email"]["requested"] == 0
    before = admin.get(
        "/service",
        params={
            "user_id": user["id"],
            "detailed": "True",
            "start_date": "2020-01-01",
            "end_date": "2020-01-02",
        },
    ).json()["data"]
    assert before[0]["statistics"]["sms"]["requested"] == 0
    got = admin.get(f"/service/{service['id']}", params={"detailed": "True", "today_only": "True"}).json()[
        "data"
    ]
    assert got["statistics"]["sms"] == {"requested": 2, "delivered": 1, "failed": 0}
    assert got["statistics"]["email"]["requested"] == 0  # test keys never count
    assert got["statistics"]["letter"] == {"requested": 0, "delivered": 0, "failed": 0}
    assert "statistics" not in admin.get(f"/service/{service['id']}").json()["data"]


def test_find_services_by_name(admin: TestClient) -> None:
    tag = uuid.uuid4().hex[:6]
    found = new_service(admin, name=f"Findable {tag} Matching Service")
    new_service(admin, name=f"Other {uuid.uuid4().hex[:6]}")
    result = admin.get("/service/find-services-by-name", params={"service_name": f"{tag.upper()} matching"})
    assert result.status_code == 200, result.text
    assert result.json()["data"] == [
        {
            "id": found["id"],
            "name": found["name"],
            "active": True,
            "restricted": True,
            "organisation_name": None,
        }
    ]
    assert admin.get("/service/find-services-by-name", params={"service_name": "%_"}).json()["data"] == []
    assert _error(admin.get("/service/find-services-by-name"), 400) == {
        "service_name": ["Missing data for required field."]
    }


def test_statistics_windows(admin: TestClient, admin_db: Database) -> None:
    service = new_service(admin)
    sid = service["id"]
    _notify(
        admin_db,
        sid,
        ("email", "delivered", "normal"),
        ("email", "permanent-failure", "normal"),
        ("email", "cancelled", "normal"),
        ("letter", "validation-failed", "normal"),
        ("sms", "sent", "normal"),
    )
    old = datetime.now(UTC) - timedelta(days=3)
    with admin_db.unit_of_work() as conn:
        conn.execute(
            notifications.insert().values(
                id=uuid.uuid4(),
                service_id=uuid.UUID(sid),
                template_id=uuid.uuid4(),
                template_version=1,
                notification_type="sms",
                key_type="normal",
                recipient="x",
                normalised_recipient="x",
                status="delivered",
                body="b",
                created_at=old,
            )
        )
    stats = admin.get(f"/service/{sid}/statistics").json()["data"]
    assert stats == {
        "email": {"requested": 2, "delivered": 1, "failed": 1},
        "sms": {"requested": 2, "delivered": 2, "failed": 0},
        "letter": {"requested": 1, "delivered": 0, "failed": 1},
    }
    today = admin.get(f"/service/{sid}/statistics", params={"today_only": "True"}).json()["data"]
    assert today["sms"]["requested"] == 1
    assert (
        admin.get(f"/service/{sid}/statistics", params={"limit_days": 1}).json()["data"]["sms"]["requested"]
        == 1
    )
    assert _error(admin.get(f"/service/{sid}/statistics", params={"limit_days": "seven"}), 400)["limit_days"]
    assert _error(admin.get(f"/service/{uuid.uuid4()}/statistics"), 404) == "No result found"


def test_monthly_statistics_for_a_financial_year(admin: TestClient, admin_db: Database) -> None:
    service = new_service(admin)
    sid = service["id"]
    _notify(admin_db, sid, ("sms", "delivered", "normal"), ("sms", "permanent-failure", "normal"))
    now = datetime.now(UTC)
    year = now.year if now.month >= 4 else now.year - 1
    month = now.strftime("%Y-%m")
    data = admin.get(f"/service/{sid}/notifications/monthly", params={"year": year}).json()["data"]
    assert list(data)[0] == f"{year}-04" and month in data and len(data) <= 12
    assert data[month]["sms"] == {"requested": 2, "delivered": 1, "failed": 1, "permanent-failure": 1}
    assert data[month]["email"] == {"requested": 0, "delivered": 0, "failed": 0}
    past = admin.get(f"/service/{sid}/notifications/monthly", params={"year": 2020}).json()["data"]
    assert list(past) == [f"2020-{m:02d}" for m in range(4, 13)] + [f"2021-{m:02d}" for m in range(1, 4)]
    assert admin.get(f"/service/{sid}/notifications/monthly", params={"year": 2999}).status_code == 400
    assert (
        _error(admin.get(f"/service/{sid}/notifications/monthly", params={"year": "abc"}), 400)
        == "Year must be a number"
    )
    assert _error(admin.get(f"/service/{sid}/notifications/monthly"), 400) == "Year must be a number"


def test_going_live_emails_the_team(admin: TestClient, admin_db: Database) -> None:
    owner = new_user(admin)
    sid = new_service(admin, owner, restricted=True)["id"]

    def go_live_messages() -> list[dict[str, Any]]:
        with admin_db.engine.connect() as conn:
            bodies = conn.execute(
                select(outbox.c.body).where(outbox.c.routing_key == "notification.requested.v1")
            )
            payloads = [json.loads(r.body)["payload"] for r in bodies]
        return [p for p in payloads if p["recipient"] == owner["email_address"]]

    admin.post(f"/service/{sid}", json={"notes": "still in trial"})
    assert go_live_messages() == []
    admin.post(f"/service/{sid}", json={"restricted": False})
    [message] = go_live_messages()
    assert message["notification_type"] == "email" and "is now live" in message["subject"]
