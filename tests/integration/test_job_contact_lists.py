"""Contact lists through the admin API: a list of recipients is uploaded, checked and saved, a job is made from it
(no file: the saved rows are checked again against the template) and delivered, the list's jobs are listed, and
an archived list is neither listed nor usable."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from notify_tools.admin_client import AdminApiError, AdminClient

from .helpers import csv_bytes, eventually

pytestmark = pytest.mark.integration


NUMBERS = ["07700 900501", "07700 900502", "07700 900503"]
LIST_ROWS = [["Phone number", "name"]] + [[n, f"Member {i}"] for i, n in enumerate(NUMBERS)]


def _template(admin: AdminClient, demo: dict[str, Any], kind: str, content: str) -> str:
    body = {
        "name": f"contact list {kind} {uuid.uuid4().hex[:6]}",
        "template_type": kind,
        "content": content,
        "service": demo["service_id"],
        "created_by": demo["user_id"],
    }
    if kind == "email":
        body["subject"] = "Hello"
    return admin.post(f"/service/{demo['service_id']}/template", body)["data"]["id"]  # type: ignore[no-any-return]


def _upload_from_list(admin: AdminClient, sid: str, template_id: str, contact_list_id: str) -> Any:
    """``POST /service/{id}/job/upload`` with form fields only (multipart, no file)."""
    path = f"/service/{sid}/job/upload"
    return admin.upload(path, None, None, template_id=template_id, contact_list_id=contact_list_id)["data"]


def test_a_contact_list_of_valid_numbers_passes_its_check(admin: AdminClient, demo: dict[str, Any]) -> None:
    checked = admin.upload(
        f"/service/{demo['service_id']}/contact-list/upload",
        "team.csv",
        csv_bytes(LIST_ROWS),
        template_type="sms",
    )["data"]
    assert checked["notification_count"] == 3
    assert checked["errors"] == [] and checked["valid"] is True


def test_a_job_made_from_a_saved_contact_list(admin: AdminClient, demo: dict[str, Any]) -> None:
    sid, user = demo["service_id"], demo["user_id"]
    numbers = NUMBERS

    checked = admin.upload(
        f"/service/{sid}/contact-list/upload", "team.csv", csv_bytes(LIST_ROWS), template_type="sms"
    )["data"]
    assert checked["notification_count"] == 3 and checked["template_type"] == "sms"
    assert checked["template_id"] is None and checked["original_file_name"] == "team.csv"
    assert checked["valid"] is True and checked["errors"] == []

    saved = admin.post(f"/service/{sid}/contact-list", {"id": checked["id"], "created_by": user})
    list_id = saved["id"]
    assert list_id == checked["id"] and saved["service_id"] == sid
    assert (saved["row_count"], saved["template_type"], saved["original_file_name"]) == (3, "sms", "team.csv")
    assert saved["has_jobs"] is False and saved["recent_job_count"] == 0
    with pytest.raises(AdminApiError) as twice:
        admin.post(f"/service/{sid}/contact-list", {"id": list_id, "created_by": user})
    assert twice.value.status_code == 400

    assert list_id in [c["id"] for c in admin.get(f"/service/{sid}/contact-list")]
    assert admin.get(f"/service/{sid}/contact-list/{list_id}")["row_count"] == 3

    # A list for texts cannot feed an email template.
    email_template = _template(admin, demo, "email", "Hello")
    with pytest.raises(AdminApiError) as wrong_kind:
        _upload_from_list(admin, sid, email_template, list_id)
    assert wrong_kind.value.status_code == 400

    template_id = _template(admin, demo, "sms", "Hi ((name)) from the list")
    report = _upload_from_list(admin, sid, template_id, list_id)
    assert report["valid"] is True and report["errors"] == []
    assert report["notification_count"] == 3 and report["id"] != list_id
    assert report["template_id"] == template_id and report["original_file_name"] == "team.csv"

    created = admin.post(
        f"/service/{sid}/job", {"id": report["id"], "created_by": user, "contact_list_id": list_id}
    )["data"]
    assert created["contact_list_id"] == list_id and created["notification_count"] == 3
    job = eventually(
        lambda: admin.get(f"/service/{sid}/job/{report['id']}")["data"],
        lambda j: j["job_status"] == "finished all notifications created",
        timeout=60,
    )
    assert job["job_status"] == "finished all notifications created"

    sent = admin.get(f"/service/{sid}/job/{report['id']}/notifications")["notifications"]
    assert sorted(n["to"] for n in sent) == numbers
    assert sorted(n["personalisation"]["name"] for n in sent) == ["Member 0", "Member 1", "Member 2"]

    of_list = admin.get(f"/service/{sid}/job", params={"contact_list_id": list_id})
    assert [j["id"] for j in of_list["data"]] == [report["id"]] and of_list["total"] == 1
    assert of_list["data"][0]["contact_list_id"] == list_id
    again = admin.get(f"/service/{sid}/contact-list/{list_id}")
    assert again["has_jobs"] is True and again["recent_job_count"] == 1

    assert admin.delete(f"/service/{sid}/contact-list/{list_id}") is None
    assert list_id not in [c["id"] for c in admin.get(f"/service/{sid}/contact-list")]
    with pytest.raises(AdminApiError) as gone:
        admin.get(f"/service/{sid}/contact-list/{list_id}")
    assert gone.value.status_code == 404
    with pytest.raises(AdminApiError) as unusable:
        _upload_from_list(admin, sid, template_id, list_id)
    assert unusable.value.status_code == 404
    with pytest.raises(AdminApiError) as archived_twice:
        admin.delete(f"/service/{sid}/contact-list/{list_id}")
    assert archived_twice.value.status_code == 404
