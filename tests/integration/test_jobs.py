"""Batch sends through the admin API (seed 000's JobApiClient): a spreadsheet is uploaded and checked, becomes a job,
and every row is delivered, with progress and statuses visible; scheduling, cancel, limits, and a worker killed
mid-job that resumes with every row sent exactly once."""

from __future__ import annotations

import signal
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from notifications_python_client.notifications import NotificationsAPIClient
from notify_tools.admin_client import AdminApiError, AdminClient
from notify_tools.launcher import RunningStack
from notify_tools.spreadsheets import WRITERS
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from .helpers import csv_bytes, eventually

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def jobs_db(stack: RunningStack) -> Any:
    url = make_url(stack.env["POSTGRES_URL"]).set(database=stack.env["DATABASE_PREFIX"] + "jobs")
    engine = create_engine(url)
    yield engine
    engine.dispose()


def _sms_template(admin: AdminClient, demo: dict[str, Any], content: str = "Hi ((name))") -> str:
    body = {
        "name": f"job sms {uuid.uuid4().hex[:6]}",
        "template_type": "sms",
        "content": content,
        "service": demo["service_id"],
        "created_by": demo["user_id"],
    }
    return admin.post(f"/service/{demo['service_id']}/template", body)["data"]["id"]  # type: ignore[no-any-return]


def _upload(admin: AdminClient, sid: str, template_id: str, name: str, content: bytes) -> dict[str, Any]:
    return admin.upload(f"/service/{sid}/job/upload", name, content, template_id=template_id)["data"]  # type: ignore[no-any-return]


def _job(admin: AdminClient, sid: str, job_id: str) -> dict[str, Any]:
    return admin.get(f"/service/{sid}/job/{job_id}")["data"]  # type: ignore[no-any-return]


def _finished(admin: AdminClient, sid: str, job_id: str, timeout: float = 90) -> dict[str, Any]:
    job = eventually(
        lambda: _job(admin, sid, job_id),
        lambda j: j["job_status"] == "finished all notifications created",
        timeout=timeout,
    )
    assert job["job_status"] == "finished all notifications created", job
    return job


def test_a_csv_job_delivers_every_row_with_progress_and_statistics(
    admin: AdminClient, demo: dict[str, Any]
) -> None:
    sid = demo["service_id"]
    template_id = _sms_template(admin, demo, "Hi ((name)), ref ((ref))")
    rows = [["Phone Number", "name", "REF"]] + [
        [f"07700 900{i:03d}", f"Person {i}", f"R{i}"] for i in range(25)
    ]
    report = _upload(admin, sid, template_id, "people.csv", csv_bytes(rows))
    assert report["valid"] is True and report["errors"] == []
    assert report["notification_count"] == 25 and report["original_file_name"] == "people.csv"

    created = admin.post(f"/service/{sid}/job", {"id": report["id"], "created_by": demo["user_id"]})["data"]
    assert created["id"] == report["id"] and created["statistics"] == []
    assert created["job_status"] == "pending" and created["notification_count"] == 25
    assert created["template"] == template_id and created["template_type"] == "sms"
    assert created["created_by"]["id"] == demo["user_id"] and created["service"] == sid
    assert set(created) == {
        "archived", "contact_list_id", "created_at", "created_by", "id", "job_status", "notification_count",
        "original_file_name", "processing_finished", "processing_started", "scheduled_for", "service",
        "service_name", "statistics", "template", "template_name", "template_type", "template_version",
        "updated_at",
    }  # fmt: skip

    _finished(admin, sid, report["id"])
    # The simulators fail numbers ending 7700900002 permanently and 7700900003 temporarily.
    expected = [
        {"status": "delivered", "count": 23},
        {"status": "permanent-failure", "count": 1},
        {"status": "temporary-failure", "count": 1},
    ]
    delivered = eventually(
        lambda: _job(admin, sid, report["id"]), lambda j: j["statistics"] == expected, timeout=60
    )
    assert delivered["statistics"] == expected
    assert delivered["processing_started"] and delivered["processing_finished"]

    page = admin.get(f"/service/{sid}/job/{report['id']}/notifications", params={"page_size": 10})
    assert page["total"] == 25 and len(page["notifications"]) == 10
    assert [n["job_row_number"] for n in page["notifications"]] == list(range(10))
    first = page["notifications"][0]
    assert first["to"] == "07700 900000" and first["job"]["original_file_name"] == "people.csv"
    assert first["template"]["id"] == template_id
    assert "page_size=10" in page["links"]["next"] and page["links"]["next"].endswith("page=2")
    assert page["links"]["last"].endswith("page=3") and "prev" not in page["links"]
    assert admin.get(f"/service/{sid}/job/{report['id']}/notification_count") == {"count": 25}

    # The same notifications through the public API, with the row's personalisation rendered.
    client = NotificationsAPIClient(demo["api_keys"]["normal"], base_url=demo["base_url"])
    one = client.get_notification_by_id(first["id"])
    assert one["body"].endswith("Hi Person 0, ref R0") and one["phone_number"] == "07700 900000"

    listed = admin.get(f"/service/{sid}/job", params={"statuses": "finished all notifications created"})
    assert report["id"] in [j["id"] for j in listed["data"]] and listed["page_size"] == 50


@pytest.mark.parametrize("extension", ["tsv", "xlsx", "xls", "ods"])
def test_every_spreadsheet_format_becomes_a_job(
    admin: AdminClient, demo: dict[str, Any], extension: str, tmp_path: Path
) -> None:
    """Numbers typed into a spreadsheet come back as the text typed (7700900123, not 7700900123.0)."""
    sheet: list[list[Any]] = [["Phone number", "Name"], [7700900123, "Ann"], ["07700 900124", "Bo"]]
    if extension == "tsv":
        content = csv_bytes([[str(c) for c in row] for row in sheet], delimiter="\t")
    else:
        content = WRITERS[extension](tmp_path / f"people.{extension}", sheet).read_bytes()
    sid = demo["service_id"]
    template_id = _sms_template(admin, demo)
    report = _upload(admin, sid, template_id, f"people.{extension}", content)
    assert report["valid"] is True, report["errors"]
    assert report["notification_count"] == 2
    admin.post(f"/service/{sid}/job", {"id": report["id"], "created_by": demo["user_id"]})
    _finished(admin, sid, report["id"])
    listed = admin.get(f"/service/{sid}/job/{report['id']}/notifications")["notifications"]
    assert [n["to"] for n in listed] == ["7700900123", "07700 900124"]
    assert [n["personalisation"]["Name"] for n in listed] == ["Ann", "Bo"]


def test_row_errors_are_reported_and_an_invalid_file_makes_no_job(
    admin: AdminClient, demo: dict[str, Any], jobs_db: Engine
) -> None:
    sid = demo["service_id"]
    template_id = _sms_template(admin, demo, "Hi ((name))")
    rows = [["phone number", "name"], ["07700 900001", "Ann"], ["not a number", "Bo"], ["07700 900003", ""]]
    report = _upload(admin, sid, template_id, "bad.csv", csv_bytes(rows))
    assert report["valid"] is False and report["notification_count"] == 3
    by_row = {e["row"]: e for e in report["errors"]}
    assert set(by_row) == {3, 4}  # spreadsheet rows: the header is row 1
    assert report["error_count"] == 2
    with pytest.raises(AdminApiError) as refused:
        admin.post(f"/service/{sid}/job", {"id": report["id"], "created_by": demo["user_id"]})
    assert refused.value.status_code == 400
    assert refused.value.body["message"] == "File is not valid, can't create job"
    with jobs_db.connect() as conn:  # a file that can never be sent keeps its report, not its rows
        kept = conn.execute(
            text("SELECT count(*) FROM upload_chunks WHERE data_id = :id"), {"id": report["id"]}
        )
        assert kept.scalar() == 0

    missing_column = _upload(
        admin, sid, template_id, "cols.csv", csv_bytes([["phone number"], ["07700900001"]])
    )
    assert missing_column["valid"] is False and missing_column["errors"][0]["row"] is None
    assert [e["code"] for e in missing_column["errors"]] == ["missing_column"]

    too_long = _upload(
        admin,
        sid,
        template_id,
        "long.csv",
        csv_bytes([["phone number", "name"], ["07700900001", "x" * 1000]]),
    )
    assert [(e["row"], e["code"]) for e in too_long["errors"]] == [(2, "message_too_long")]
    assert too_long["errors"][0]["message"].startswith("Your message is too long.")

    twice = _upload(
        admin,
        sid,
        template_id,
        "twice.csv",
        csv_bytes([["phone number", "name", "Phone_Number"], ["07700900001", "A", "x"]]),
    )
    assert [e["code"] for e in twice["errors"]] == ["duplicate_column"] and twice["valid"] is False

    with pytest.raises(AdminApiError) as unreadable:
        _upload(admin, sid, template_id, "notes.pdf", b"%PDF-1.4 not a spreadsheet")
    assert unreadable.value.status_code == 400 and "file" in unreadable.value.body["message"]


def test_create_job_refusals(admin: AdminClient, demo: dict[str, Any]) -> None:
    sid = demo["service_id"]
    template_id = _sms_template(admin, demo)
    report = _upload(
        admin, sid, template_id, "ok.csv", csv_bytes([["phone number", "name"], ["07700900001", "A"]])
    )

    def refusal(body: dict[str, Any]) -> tuple[int, Any]:
        with pytest.raises(AdminApiError) as err:
            admin.post(f"/service/{sid}/job", body)
        return err.value.status_code, err.value.body["message"]

    assert refusal({"created_by": demo["user_id"]}) == (400, {"id": ["Missing data for required field."]})
    assert refusal({"id": report["id"]}) == (400, {"created_by": ["Missing data for required field."]})
    past = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S")
    assert refusal({"id": report["id"], "created_by": demo["user_id"], "scheduled_for": past}) == (
        400,
        {"scheduled_for": ["Date cannot be in the past"]},
    )
    far = (datetime.now(UTC) + timedelta(days=8)).strftime("%Y-%m-%dT%H:%M:%S")
    assert refusal({"id": report["id"], "created_by": demo["user_id"], "scheduled_for": far}) == (
        400,
        {"scheduled_for": ["Date cannot be more than 7 days in the future"]},
    )
    assert refusal({"id": str(uuid.uuid4()), "created_by": demo["user_id"]})[0] == 404
    admin.post(f"/service/{sid}/template/{template_id}", {"archived": True, "created_by": demo["user_id"]})
    assert refusal({"id": report["id"], "created_by": demo["user_id"]}) == (
        400,
        {"template": ["Template has been deleted"]},
    )


def test_scheduled_job_starts_when_due_and_a_scheduled_job_can_be_cancelled(
    admin: AdminClient, demo: dict[str, Any]
) -> None:
    sid = demo["service_id"]
    template_id = _sms_template(admin, demo)
    content = csv_bytes([["phone number", "name"], ["07700900001", "A"], ["07700900002", "B"]])
    soon = _upload(admin, sid, template_id, "soon.csv", content)
    later = _upload(admin, sid, template_id, "later.csv", content)
    when = (datetime.now(UTC) + timedelta(seconds=3)).strftime("%Y-%m-%dT%H:%M:%S.%f")
    job = admin.post(
        f"/service/{sid}/job", {"id": soon["id"], "created_by": demo["user_id"], "scheduled_for": when}
    )["data"]
    assert job["job_status"] == "scheduled" and job["scheduled_for"].startswith(when[:19])
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S")
    admin.post(
        f"/service/{sid}/job", {"id": later["id"], "created_by": demo["user_id"], "scheduled_for": tomorrow}
    )
    stats = admin.get(f"/service/{sid}/job/scheduled-job-stats")
    assert stats["count"] >= 1 and stats["soonest_scheduled_for"] is not None

    assert _job(admin, sid, soon["id"])["job_status"] == "scheduled"
    _finished(admin, sid, soon["id"])

    cancelled = admin.post(f"/service/{sid}/job/{later['id']}/cancel", {})["data"]
    assert cancelled["job_status"] == "cancelled"
    with pytest.raises(AdminApiError) as not_scheduled:
        admin.post(f"/service/{sid}/job/{soon['id']}/cancel", {})
    assert not_scheduled.value.status_code == 404
    time.sleep(1)
    assert _job(admin, sid, later["id"])["statistics"] == []  # nothing was sent


def test_a_job_over_the_daily_limit_sends_nothing(admin: AdminClient, demo: dict[str, Any]) -> None:
    user = demo["user_id"]
    service = admin.post(
        "/service",
        {
            "name": f"Small limits {uuid.uuid4().hex[:6]}",
            "user_id": user,
            "created_by": user,
            "sms_message_limit": 2,
            "restricted": False,
        },
    )["data"]
    sid = service["id"]
    template_id = admin.post(
        f"/service/{sid}/template",
        {"name": "t", "template_type": "sms", "content": "Hi", "service": sid, "created_by": user},
    )["data"]["id"]
    rows = [["phone number"]] + [[f"0770090000{i}"] for i in range(3)]
    report = _upload(admin, sid, template_id, "three.csv", csv_bytes(rows))
    admin.post(f"/service/{sid}/job", {"id": report["id"], "created_by": user})
    job = eventually(
        lambda: _job(admin, sid, report["id"]),
        lambda j: j["job_status"] == "sending limits exceeded",
        timeout=30,
    )
    assert job["job_status"] == "sending limits exceeded"
    assert admin.get(f"/service/{sid}/job/{report['id']}/notification_count") == {"count": 0}


def test_a_worker_killed_mid_job_resumes_and_sends_every_row_once(
    stack: RunningStack, admin: AdminClient, demo: dict[str, Any], jobs_db: Engine, db: Engine
) -> None:
    sid = demo["service_id"]
    template_id = _sms_template(admin, demo)
    total = 3000
    rows = [["phone number", "name"]] + [[f"07700 9{i:05d}", f"P{i}"] for i in range(total)]
    report = _upload(admin, sid, template_id, "big.csv", csv_bytes(rows))
    assert report["valid"] is True
    admin.post(f"/service/{sid}/job", {"id": report["id"], "created_by": demo["user_id"]})

    def progress() -> int:
        with jobs_db.connect() as conn:
            return int(
                conn.execute(
                    text("SELECT rows_processed FROM jobs WHERE id = :id"), {"id": report["id"]}
                ).scalar()
            )

    started = eventually(progress, lambda n: n > 0, timeout=30, every=0.02)
    assert 0 < started < total, "the job must be killed part-way through"
    stack.stop("jobs", sig=signal.SIGKILL)
    at_kill = progress()
    assert at_kill < total
    stack.start("jobs")
    stack.wait_ready(["jobs"])
    _finished(admin, sid, report["id"], timeout=120)

    with db.connect() as conn:
        stored, distinct_rows = conn.execute(
            text("SELECT count(*), count(DISTINCT job_row_number) FROM notifications WHERE job_id = :id"),
            {"id": report["id"]},
        ).one()
    assert (stored, distinct_rows) == (total, total)
    with db.connect() as conn:
        ids = {
            str(i)
            for i in conn.execute(
                text("SELECT id FROM notifications WHERE job_id = :id"), {"id": report["id"]}
            ).scalars()
        }

    def sent_by_simulators() -> dict[str, int]:
        counts: dict[str, int] = {}
        for sim in ("sms-sim-mmg", "sms-sim-firetext"):
            by_reference = httpx.get(f"{stack.url(sim)}/stats", timeout=5).json()["by_reference"]
            for ref, count in by_reference.items():
                if ref in ids:
                    counts[ref] = counts.get(ref, 0) + count
        return counts

    reached = eventually(sent_by_simulators, lambda c: len(c) == total, timeout=120)
    assert len(reached) == total and max(reached.values()) == 1
