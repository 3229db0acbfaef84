"""A service's notifications for the admin (seed 000's get_notifications_for_service), GET and POST."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from notify_notifications.adapters.tables import notifications
from notify_platform.db import Database

from .admin_helpers import error, new_service

pytestmark = pytest.mark.integration


def _store(db: Database, sid: str, n: int = 1, *, age: timedelta = timedelta(0), **values: Any) -> list[str]:
    ids = []
    with db.unit_of_work() as conn:
        for i in range(n):
            nid = uuid.uuid4()
            row = {
                "id": nid,
                "service_id": uuid.UUID(sid),
                "template_id": uuid.uuid4(),
                "template_version": 1,
                "notification_type": "sms",
                "key_type": "normal",
                "recipient": "07700 900123",
                "normalised_recipient": "447700900123",
                "status": "delivered",
                "body": "b",
                "created_at": datetime.now(UTC) - age - timedelta(seconds=i),
                **values,
            }
            conn.execute(notifications.insert().values(**row))
            ids.append(str(nid))
    return ids


def test_filters_from_the_seed(admin: TestClient, admin_db: Database) -> None:
    sid = new_service(admin)["id"]
    job = uuid.uuid4()
    sms = _store(admin_db, sid, 3)
    emails = _store(
        admin_db,
        sid,
        2,
        notification_type="email",
        recipient="Someone@Example.gov.uk",
        normalised_recipient="someone@example.gov.uk",
        status="permanent-failure",
    )
    from_job = _store(admin_db, sid, 1, job_id=job, status="sending")
    _store(admin_db, sid, 1, key_type="test")
    old = _store(admin_db, sid, 1, age=timedelta(days=3))
    base = f"/service/{sid}/notifications"

    everything = admin.get(base).json()
    assert everything["page_size"] == 50 and everything["links"] == {}
    assert len(everything["notifications"]) == 7  # test key excluded
    assert {"id", "to", "status", "template", "created_by", "job"} <= set(everything["notifications"][0])

    assert [n["id"] for n in admin.get(base, params={"job_id": str(job)}).json()["notifications"]] == from_job
    assert len(admin.get(base, params={"template_type": "email"}).json()["notifications"]) == 2
    failed = admin.get(base, params={"status": "failed"}).json()["notifications"]
    assert sorted(n["id"] for n in failed) == sorted(emails)
    both = admin.get(base, params=[("status", "failed"), ("status", "sending")]).json()["notifications"]
    assert len(both) == 3
    assert old[0] not in [n["id"] for n in admin.get(base, params={"limit_days": 1}).json()["notifications"]]
    assert old[0] in [n["id"] for n in admin.get(base, params={"limit_days": 7}).json()["notifications"]]

    page1 = admin.get(base, params={"page": 1, "page_size": 2, "count_pages": "True"}).json()
    page2 = admin.get(base, params={"page": 2, "page_size": 2, "count_pages": "True"}).json()
    assert page1["links"] == {"next": True} and page2["links"] == {"prev": True, "next": True}
    newest_first = [n["id"] for n in everything["notifications"]]
    assert [n["id"] for n in page1["notifications"] + page2["notifications"]] == newest_first[:4]
    assert set(sms) <= set(newest_first)
    assert admin.get(base, params={"page": 2, "page_size": 2, "count_pages": "False"}).json()["links"] == {}
    assert len(admin.get(base, params={"include_from_test_key": "True"}).json()["notifications"]) == 8
    assert len(admin.get(base, params={"include_jobs": "False"}).json()["notifications"]) == 6


def test_search_by_recipient_uses_post(admin: TestClient, admin_db: Database) -> None:
    sid = new_service(admin)["id"]
    mine = _store(admin_db, sid, 1, normalised_recipient="447700900999", client_reference="ref-1")
    _store(admin_db, sid, 2)
    base = f"/service/{sid}/notifications"
    found = admin.post(base, json={"to": "07700 900999", "template_type": ["sms"]}).json()
    assert [n["id"] for n in found["notifications"]] == mine
    assert [n["id"] for n in admin.post(base, json={"to": "ref-1"}).json()["notifications"]] == mine
    assert (
        admin.post(base, json={"to": "nobody@example.gov.uk", "template_type": "email"}).json()[
            "notifications"
        ]
        == []
    )
    assert len(admin.post(base, json={"status": ["delivered"], "page_size": 1}).json()["notifications"]) == 1


def test_refusals(admin: TestClient) -> None:
    sid = new_service(admin)["id"]
    base = f"/service/{sid}/notifications"
    assert error(admin.get(base, params={"page": 0}), 400) == {"page": ["Not a positive integer"]}
    assert error(admin.get(base, params={"page_size": "x"}), 400) == {"page_size": ["Not a positive integer"]}
    assert error(admin.get(base, params={"limit_days": "-1"}), 400) == {
        "limit_days": ["Not a positive integer"]
    }
    assert error(admin.get(base, params={"template_type": "fax"}), 400)["template_type"]
    assert error(admin.get(base, params={"status": "lost"}), 400)["status"]
    assert error(admin.get(base, params={"job_id": "nope"}), 400)["job_id"]
    assert error(admin.post(base, json=["not", "an", "object"]), 400)
    assert error(admin.get(f"/service/{uuid.uuid4()}/notifications"), 404) == "No result found"


def test_one_notification_and_cancelling_a_letter(admin: TestClient, admin_db: Database) -> None:
    sid = new_service(admin)["id"]
    [sms] = _store(admin_db, sid)
    [letter] = _store(admin_db, sid, notification_type="letter", status="created", postage="second")
    got = admin.get(f"/service/{sid}/notifications/{sms}")
    assert got.status_code == 200 and got.json()["id"] == sms and got.json()["status"] == "delivered"
    assert error(admin.get(f"/service/{sid}/notifications/{uuid.uuid4()}"), 404) == "Notification not found"
    other = new_service(admin)["id"]
    assert error(admin.get(f"/service/{other}/notifications/{sms}"), 404) == "Notification not found"
    assert error(admin.post(f"/service/{sid}/notifications/{sms}/cancel"), 400) == (
        "Notification cannot be cancelled - only letters can be cancelled"
    )
    # Made just now, so before its cut-off (17:30 today, or the next printing day's if made after it).
    cancelled = admin.post(f"/service/{sid}/notifications/{letter}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"


def test_a_jobs_notifications_in_row_order_with_total_and_count(
    admin: TestClient, admin_db: Database
) -> None:
    sid = new_service(admin)["id"]
    job = uuid.uuid4()
    by_row = {}
    for row in (2, 0, 3, 1):  # stored out of row order
        by_row[row] = _store(
            admin_db, sid, 1, job_id=job, job_row_number=row, status="delivered" if row else "sending"
        )[0]
    _store(admin_db, sid, 2)  # not from the job
    base = f"/internal/services/{sid}/jobs/{job}"

    listed = admin.get(f"{base}/notifications").json()
    assert [n["id"] for n in listed["notifications"]] == [by_row[r] for r in range(4)]
    assert listed["total"] == 4 and listed["page_size"] == 50
    second = admin.get(f"{base}/notifications", params={"page": 2, "page_size": 3}).json()
    assert [n["id"] for n in second["notifications"]] == [by_row[3]] and second["total"] == 4
    sending = admin.get(f"{base}/notifications", params={"status": "sending"}).json()
    assert [n["id"] for n in sending["notifications"]] == [by_row[0]] and sending["total"] == 1
    assert admin.get(f"{base}/count").json() == {"count": 4}
    assert admin.get(f"/internal/services/{sid}/jobs/{uuid.uuid4()}/count").json() == {"count": 0}
    assert error(admin.get(f"{base}/notifications", params={"page": 0}), 400) == {
        "page": ["Not a positive integer"]
    }


def test_letters_are_found_by_address_whatever_its_spaces(admin: TestClient, admin_db: Database) -> None:
    sid = new_service(admin)["id"]
    [letter] = _store(
        admin_db,
        sid,
        notification_type="letter",
        recipient="10 Downing Street\nLondon\nSW1A 2AA",
        normalised_recipient="10 Downing Street, London, SW1A 2AA",
    )
    _store(admin_db, sid, notification_type="letter", normalised_recipient="1 High Street, Leeds, LS1 1AA")
    for to in ("sw1a2aa", "SW1A 2AA", "10 downing street"):
        found = admin.post(f"/service/{sid}/notifications", json={"to": to, "template_type": "letter"}).json()
        assert [n["id"] for n in found["notifications"]] == [letter], to
