"""Admin sender routes (admin-api.md §12.1–12.3): SMS senders, reply-to addresses, letter contact blocks."""

from __future__ import annotations

import json
import uuid

import pytest
from fastapi.testclient import TestClient
from notify_notifications.adapters.tables import outbox
from notify_platform.db import Database
from sqlalchemy import select

from .admin_helpers import error, new_service

pytestmark = pytest.mark.integration


def test_sms_senders(admin: TestClient) -> None:
    sid = new_service(admin)["id"]
    base = f"/service/{sid}/sms-sender"
    [original] = admin.get(base).json()
    assert original["sms_sender"] == "GOVUK" and original["is_default"] is True
    created = admin.post(base, json={"sms_sender": "MYSERVICE", "is_default": True})
    assert created.status_code == 201, created.text
    new = created.json()  # bare, as the reference answers SMS senders
    assert new["sms_sender"] == "MYSERVICE" and new["is_default"] is True
    listed = admin.get(base).json()
    assert [s["sms_sender"] for s in listed] == ["MYSERVICE", "GOVUK"] and not listed[1]["is_default"]
    assert admin.get(f"{base}/{original['id']}").json()["sms_sender"] == "GOVUK"
    renamed = admin.post(f"{base}/{original['id']}", json={"sms_sender": "OTHER", "is_default": False})
    assert renamed.status_code == 200 and renamed.json()["sms_sender"] == "OTHER"
    assert error(
        admin.post(f"{base}/{new['id']}", json={"sms_sender": "MYSERVICE", "is_default": False}), 400
    ) == ("You must have at least one SMS sender as the default")
    assert error(admin.post(f"{base}/{new['id']}/archive"), 400) == "You cannot delete a default sms sender"
    archived = admin.post(f"{base}/{original['id']}/archive")
    assert archived.status_code == 200 and archived.json()["data"]["archived"] is True
    assert [s["id"] for s in admin.get(base).json()] == [new["id"]]
    assert error(admin.post(base, json={"sms_sender": "A" * 12, "is_default": True}), 400)["sms_sender"]
    assert error(admin.post(base, json={"is_default": True}), 400) == {
        "sms_sender": ["Missing data for required field."]
    }
    assert error(admin.get(f"{base}/{uuid.uuid4()}"), 404) == "No result found"
    assert error(admin.get(f"/service/{uuid.uuid4()}/sms-sender"), 404) == "No result found"


def test_reply_to_addresses(admin: TestClient, admin_db: Database) -> None:
    sid = new_service(admin)["id"]
    base = f"/service/{sid}/email-reply-to"
    assert admin.get(base).json() == []
    assert error(admin.post(base, json={"email_address": "a@example.gov.uk", "is_default": False}), 400) == (
        "You must have at least one reply to email address as the default."
    )
    first = admin.post(base, json={"email_address": "a@example.gov.uk", "is_default": True})
    assert first.status_code == 201, first.text
    first_id = first.json()["data"]["id"]
    assert error(admin.post(base, json={"email_address": "A@example.gov.uk", "is_default": False}), 409) == (
        "‘A@example.gov.uk’ is already a reply-to email address for this service."
    )
    second = admin.post(base, json={"email_address": "b@example.gov.uk", "is_default": False}).json()["data"]
    assert [r["email_address"] for r in admin.get(base).json()] == ["a@example.gov.uk", "b@example.gov.uk"]
    promoted = admin.post(
        f"{base}/{second['id']}", json={"email_address": "b@example.gov.uk", "is_default": True}
    )
    assert promoted.status_code == 200 and promoted.json()["data"]["is_default"] is True
    assert admin.get(f"{base}/{first_id}").json()["is_default"] is False
    assert error(admin.post(f"{base}/{second['id']}/archive"), 400) == (
        "You cannot delete a default email reply to address"
    )
    assert admin.post(f"{base}/{first_id}/archive").json()["data"]["archived"] is True
    assert error(admin.post(base, json={"email_address": "nope", "is_default": True}), 400) == {
        "email_address": ["Not a valid email address"]
    }

    verify = admin.post(f"{base}/verify", json={"email": "check@example.gov.uk"})
    assert verify.status_code == 201, verify.text
    notification_id = verify.json()["data"]["id"]
    with admin_db.engine.connect() as conn:
        bodies = conn.execute(
            select(outbox.c.body).where(outbox.c.routing_key == "notification.requested.v1")
        )
        payloads = [json.loads(r.body)["payload"] for r in bodies]
    sent = next(p for p in payloads if p["notification_id"] == notification_id)
    assert sent["recipient"] == "check@example.gov.uk" and sent["notification_type"] == "email"
    assert error(admin.post(f"{base}/verify", json={"email": "b@example.gov.uk"}), 409)
    assert error(admin.post(f"{base}/verify", json={"email": "bad"}), 400) == {
        "email": ["Not a valid email address"]
    }


def test_letter_contact_blocks(admin: TestClient) -> None:
    sid = new_service(admin)["id"]
    base = f"/service/{sid}/letter-contact"
    created = admin.post(base, json={"contact_block": "The Office\nLondon", "is_default": True})
    assert created.status_code == 201, created.text
    block = created.json()["data"]
    assert block["contact_block"] == "The Office\nLondon"
    other = admin.post(base, json={"contact_block": "Elsewhere", "is_default": False}).json()["data"]
    updated = admin.post(f"{base}/{other['id']}", json={"contact_block": "Elsewhere 2", "is_default": False})
    assert updated.json()["data"]["contact_block"] == "Elsewhere 2"
    assert admin.post(f"{base}/{other['id']}/archive").status_code == 200
    assert error(admin.post(f"{base}/{other['id']}", json={"contact_block": "x", "is_default": False}), 400)
    assert [b["id"] for b in admin.get(base).json()] == [block["id"]]
    assert error(admin.post(base, json={"contact_block": "\n".join("x" * 11), "is_default": True}), 400)
    assert error(admin.post(base, json={"contact_block": "  ", "is_default": True}), 400) == {
        "contact_block": ["Must not be empty"]
    }
