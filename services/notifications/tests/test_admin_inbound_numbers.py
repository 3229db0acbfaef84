"""Admin inbound-number routes (admin-api.md §12.4) and what they do to a service's SMS senders (§12.1), with the
pool filled as ops fill it (``notify-ops add-inbound-numbers``)."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from notify_notifications.adapters.tables import outbox
from notify_platform.db import Database
from notify_tools.ops import add_inbound_numbers, pool_number
from sqlalchemy import select, text

from .admin_helpers import error, new_service

pytestmark = pytest.mark.integration


@pytest.fixture
def empty_pool(admin_db: Database) -> Database:
    with admin_db.unit_of_work() as conn:
        conn.execute(text("UPDATE service_sms_senders SET inbound_number_id = NULL"))
        conn.execute(text("DELETE FROM inbound_numbers"))
    return admin_db


def test_ops_add_numbers_in_national_form_once(empty_pool: Database) -> None:
    assert pool_number("+44 7700 900456") == pool_number("447700900456") == "07700900456"
    with pytest.raises(ValueError):
        pool_number("07700-BAD")
    added = add_inbound_numbers(
        empty_pool.engine, ["+447700900456", "07700900457", "07700 900456"], provider="mmg"
    )
    assert added == ["07700900456", "07700900457"]
    assert add_inbound_numbers(empty_pool.engine, ["07700900457", "07700900458"], provider="firetext") == [
        "07700900458"
    ]
    with pytest.raises(ValueError):
        add_inbound_numbers(empty_pool.engine, ["07700900459"], provider="nope")


def test_lists_and_assigning_a_chosen_number_to_a_service_with_one_sender(
    admin: TestClient, empty_pool: Database
) -> None:
    add_inbound_numbers(empty_pool.engine, ["07700900501", "07700900502"], provider="mmg")
    listed = admin.get("/inbound-number")
    assert listed.status_code == 200
    numbers = {n["number"]: n for n in listed.json()["data"]}
    assert set(numbers) == {"07700900501", "07700900502"}
    first = numbers["07700900501"]
    assert first["provider"] == "mmg" and first["service"] is None and first["active"] is True
    assert set(first) == {"id", "number", "provider", "service", "active", "created_at", "updated_at"}

    service = new_service(admin)
    sid = service["id"]
    assert admin.get(f"/inbound-number/service/{sid}").json() == {"data": {}}
    [original] = admin.get(f"/service/{sid}/sms-sender").json()

    assigned = admin.post(f"/inbound-number/service/{sid}", json={"inbound_number_id": first["id"]})
    assert assigned.status_code == 201, assigned.text
    sender = assigned.json()  # the bare SMS sender
    assert sender["id"] == original["id"]  # its only sender became the number
    assert (sender["sms_sender"], sender["is_default"], sender["inbound_number_id"]) == (
        "07700900501",
        True,
        first["id"],
    )
    assert admin.get(f"/service/{sid}/sms-sender").json() == [sender]

    mine = admin.get(f"/inbound-number/service/{sid}").json()["data"]
    assert mine["number"] == "07700900501" and mine["service"] == {"id": sid, "name": service["name"]}
    assert [n["number"] for n in admin.get("/inbound-number/available").json()["data"]] == ["07700900502"]

    # The number's sender keeps its number and stays (§12.1).
    base = f"/service/{sid}/sms-sender/{sender['id']}"
    assert error(admin.post(base, json={"sms_sender": "OTHER", "is_default": True}), 400) == (
        f"You can not change the inbound number for service {sid}"
    )
    assert error(admin.post(f"{base}/archive"), 400) == "You cannot delete an inbound number"

    assert error(admin.post(f"/inbound-number/service/{sid}", json={}), 400) == (
        "This service already has an inbound number"
    )
    other = new_service(admin)["id"]
    taken = admin.post(f"/inbound-number/service/{other}", json={"inbound_number_id": first["id"]})
    assert error(taken, 400) == f"Inbound number: {first['id']} is not available"
    assert error(admin.post(f"/inbound-number/service/{other}", json={"inbound_number_id": "x"}), 400) == {
        "inbound_number_id": ["Not a valid UUID."]
    }
    assert error(admin.post(f"/inbound-number/service/{uuid.uuid4()}", json={}), 404) == "No result found"

    with empty_pool.engine.connect() as conn:
        reasons = [
            body
            for body in conn.execute(select(outbox.c.body)).scalars()
            if b"inbound_number_changed" in body and str(sid).encode() in body
        ]
    assert reasons  # the gateway's copy of this service is dropped


def test_a_random_free_number_is_added_as_the_default_beside_several_senders_then_switched_off(
    admin: TestClient, empty_pool: Database
) -> None:
    add_inbound_numbers(empty_pool.engine, ["07700900601"], provider="firetext")
    sid = new_service(admin)["id"]
    extra = admin.post(f"/service/{sid}/sms-sender", json={"sms_sender": "SECOND", "is_default": False})
    assert extra.status_code == 201

    assigned = admin.post(f"/inbound-number/service/{sid}")  # no body: any free number
    assert assigned.status_code == 201, assigned.text
    sender = assigned.json()
    assert sender["sms_sender"] == "07700900601" and sender["is_default"] is True
    senders = admin.get(f"/service/{sid}/sms-sender").json()
    assert [(s["sms_sender"], s["is_default"]) for s in senders] == [
        ("07700900601", True),
        ("GOVUK", False),
        ("SECOND", False),
    ]
    assert admin.get("/inbound-number/available").json() == {"data": []}
    nobody = new_service(admin)["id"]
    assert (
        error(admin.post(f"/inbound-number/service/{nobody}", json={}), 400) == "No inbound numbers available"
    )

    off = admin.post(f"/inbound-number/service/{sid}/off")
    assert off.status_code == 204 and off.content == b""
    mine = admin.get(f"/inbound-number/service/{sid}").json()["data"]
    assert mine["active"] is False and mine["service"]["id"] == sid
    assert admin.get("/inbound-number/available").json() == {"data": []}  # still the service's
    assert error(admin.post(f"/inbound-number/service/{nobody}/off"), 404) == "No result found"
