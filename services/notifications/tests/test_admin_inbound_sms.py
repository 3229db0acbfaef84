"""Admin received-text routes (admin-api.md §12.5): the inbox with its sender filter, the latest text per sender in
pages, one text, the summary, the number's last use, and switching inbound texts off."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from notify_notifications.adapters.tables import inbound_sms
from notify_notifications.entrypoints.admin_inbound_sms import PAGE_SIZE
from notify_platform.db import Database
from notify_tools.ops import add_inbound_numbers

from .admin_helpers import error, new_service

pytestmark = pytest.mark.integration


def _texts(db: Database, service_id: str, *items: tuple[str, str, timedelta]) -> list[uuid.UUID]:
    """(sender, content, age) each; their ids, in the order given."""
    now = datetime.now(UTC)
    rows = [
        {
            "id": uuid.uuid4(),
            "service_id": service_id,
            "notify_number": "07700900801",
            "user_number": sender,
            "content": content,
            "created_at": now - age,
        }
        for sender, content, age in items
    ]
    with db.unit_of_work() as conn:
        conn.execute(inbound_sms.insert(), rows)
    return [r["id"] for r in rows]


def test_inbox_one_text_and_summary(admin: TestClient, admin_db: Database) -> None:
    sid = new_service(admin)["id"]
    base = f"/service/{sid}/inbound-sms"
    assert admin.post(base, json={}).json() == {"data": []}
    assert admin.get(f"{base}/summary").json() == {"count": 0, "most_recent": None}
    newest, middle, old, expired = _texts(
        admin_db,
        sid,
        ("447700900123", "third", timedelta(minutes=1)),
        ("447700900456", "second", timedelta(hours=1)),
        ("447700900123", "first", timedelta(days=2)),
        ("447700900123", "gone", timedelta(days=8)),
    )
    inbox = admin.post(base, json={}).json()["data"]
    assert [t["id"] for t in inbox] == [str(newest), str(middle), str(old)]
    assert set(inbox[0]) == {"id", "created_at", "service_id", "notify_number", "user_number", "content"}
    assert admin.post(base).json()["data"] == inbox  # no body at all
    mine = admin.post(base, json={"phone_number": "07700 900123"}).json()["data"]
    assert [t["content"] for t in mine] == ["third", "first"]  # the sender normalised
    assert admin.post(base, json={"phone_number": ""}).json()["data"] == inbox
    assert error(admin.post(base, json={"phone_number": 7}), 400) == {"phone_number": ["Not a valid string."]}

    assert admin.get(f"{base}/{old}").json() == inbox[2]
    assert admin.get(f"{base}/{expired}").status_code == 200  # by id, as the reference: until it is deleted
    assert error(admin.get(f"{base}/{uuid.uuid4()}"), 404) == "No result found"
    assert error(admin.get(f"/service/{uuid.uuid4()}/inbound-sms/{old}"), 404) == "No result found"

    summary = admin.get(f"{base}/summary").json()
    assert summary["count"] == 3
    assert summary["most_recent"] == inbox[0]["created_at"].removesuffix("Z")


def test_latest_text_of_each_sender_in_pages(admin: TestClient, admin_db: Database) -> None:
    sid = new_service(admin)["id"]
    items: list[tuple[str, str, timedelta]] = []
    for n in range(PAGE_SIZE + 1):
        sender = f"4477009{n:05d}"
        items.append((sender, f"latest {n}", timedelta(minutes=n)))
        items.append((sender, f"earlier {n}", timedelta(minutes=n, seconds=30)))
    _texts(admin_db, sid, *items)
    first = admin.get(f"/service/{sid}/inbound-sms/most-recent").json()
    assert first["has_next"] is True
    assert [t["content"] for t in first["data"]] == [f"latest {n}" for n in range(PAGE_SIZE)]
    second = admin.get(f"/service/{sid}/inbound-sms/most-recent", params={"page": 2}).json()
    assert second == {"data": [second["data"][0]], "has_next": False}
    assert second["data"][0]["content"] == f"latest {PAGE_SIZE}"
    assert error(admin.get(f"/service/{sid}/inbound-sms/most-recent", params={"page": 0}), 400)


def _assign(admin: TestClient, admin_db: Database, sid: str, number: str) -> dict[str, Any]:
    add_inbound_numbers(admin_db.engine, [number], provider="mmg")
    free = {n["number"]: n["id"] for n in admin.get("/inbound-number/available").json()["data"]}
    assigned = admin.post(f"/inbound-number/service/{sid}", json={"inbound_number_id": free[number]})
    assert assigned.status_code == 201, assigned.text
    return assigned.json()  # type: ignore[no-any-return]


def test_most_recent_usage(admin: TestClient, admin_db: Database) -> None:
    sid = new_service(admin)["id"]
    usage = admin.get(f"/service/{sid}/inbound-sms/most-recent-usage")
    assert usage.status_code == 404 and usage.json() == {"message": "inbound not found"}
    _assign(admin, admin_db, sid, "07700900811")
    given = admin.get(f"/service/{sid}/inbound-sms/most-recent-usage").json()["most_recent_date"]
    assert given.endswith("Z")
    _texts(admin_db, sid, ("447700900123", "hi", timedelta(0)))
    latest = admin.post(f"/service/{sid}/inbound-sms", json={}).json()["data"][0]["created_at"]
    assert admin.get(f"/service/{sid}/inbound-sms/most-recent-usage").json() == {"most_recent_date": latest}


@pytest.mark.parametrize("archive", [False, True])
def test_remove_takes_the_permission_the_sender_and_the_number(
    admin: TestClient, admin_db: Database, archive: bool
) -> None:
    service = new_service(admin)
    sid = service["id"]
    admin.post(f"/service/{sid}", json={"permissions": [*service["permissions"], "inbound_sms"]})
    number = "07700900821" if archive else "07700900822"
    sender = _assign(admin, admin_db, sid, number)
    assert error(admin.post(f"/service/{sid}/inbound-sms/remove", json={}), 400) == {
        "archive": ["Missing data for required field."]
    }
    removed = admin.post(f"/service/{sid}/inbound-sms/remove", json={"archive": archive})
    assert removed.status_code == 200 and removed.json() == {}
    assert "inbound_sms" not in admin.get(f"/service/{sid}").json()["data"]["permissions"]
    senders = admin.get(f"/service/{sid}/sms-sender").json()
    assert [(s["sms_sender"], s["is_default"], s["inbound_number_id"]) for s in senders] == [
        ("GOVUK", True, None)
    ]
    assert sender["id"] not in {s["id"] for s in senders}
    assert admin.get(f"/inbound-number/service/{sid}").json() == {"data": {}}
    released = {n["number"]: n for n in admin.get("/inbound-number").json()["data"]}[number]
    assert released["service"] is None and released["active"] is (not archive)
    available = {n["number"] for n in admin.get("/inbound-number/available").json()["data"]}
    assert (number in available) is (not archive)
    assert error(admin.post(f"/service/{uuid.uuid4()}/inbound-sms/remove", json={"archive": True}), 404)
