"""Complaint and returned-letter callbacks through the whole stack, with the real client and a real HTTP endpoint: an
email to the sink's complaint address ends delivered with one complaint callback; a letter printed, delivered, then
reported returned by the print simulator ends ``returned-letter`` with one returned-letter callback. Each request
carries exactly the documented fields and the service's bearer token."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import httpx
import pytest
from notifications_python_client.notifications import NotificationsAPIClient
from notify_tools.admin_client import AdminClient
from notify_tools.callback_receiver import CallbackReceiver
from notify_tools.demo import create_demo
from notify_tools.launcher import RunningStack
from sqlalchemy import text
from sqlalchemy.engine import Engine

from .helpers import eventually, status_or_none

TOKEN = "callback-token-" + uuid.uuid4().hex
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
COMPLAINT_FIELDS = {"notification_id", "complaint_id", "reference", "to", "complaint_date"}
RETURNED_FIELDS = {
    "notification_id",
    "reference",
    "date_sent",
    "sent_by",
    "template_name",
    "template_id",
    "template_version",
    "spreadsheet_file_name",
    "spreadsheet_row_number",
    "upload_letter_file_name",
}


@pytest.fixture
def service(stack: RunningStack) -> dict[str, Any]:
    return create_demo(stack.base_url, stack.admin_secret)


def configure(admin: AdminClient, service: dict[str, Any], callback_type: str, url: str) -> None:
    admin.post(
        f"/service/{service['service_id']}/callback-api",
        {
            "url": url,
            "bearer_token": TOKEN,
            "updated_by_id": service["user_id"],
            "callback_type": callback_type,
        },
    )


def client(service: dict[str, Any]) -> NotificationsAPIClient:
    return NotificationsAPIClient(service["api_keys"]["normal"], base_url=service["base_url"])


def internal_status(db: Engine, nid: str) -> str | None:
    with db.connect() as conn:
        return conn.execute(text("SELECT status FROM notifications WHERE id = :id"), {"id": nid}).scalar()


def check_request(request: Any, fields: set[str]) -> dict[str, Any]:
    assert request.method == "POST"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["content-type"] == "application/json"
    assert set(request.json) == fields
    return request.json  # type: ignore[no-any-return]


def test_a_complaint_is_called_back_once_and_leaves_the_email_delivered(
    admin: AdminClient, service: dict[str, Any], callback_receiver: CallbackReceiver, db: Engine
) -> None:
    configure(admin, service, "complaint", callback_receiver.url("/complaint"))
    nid = str(
        client(service).send_email_notification(
            "complaint@example.com",
            service["templates"]["email"],
            personalisation={"name": "Ann", "thing": "licence"},
            reference="complaint-ref",
        )["id"]
    )
    (request,) = callback_receiver.wait_for("/complaint", 1, timeout=60)
    body = check_request(request, COMPLAINT_FIELDS)
    assert {k: body[k] for k in ("notification_id", "reference", "to")} == {
        "notification_id": nid,
        "reference": "complaint-ref",
        "to": "complaint@example.com",
    }
    assert TIMESTAMP.match(body["complaint_date"]), body["complaint_date"]
    with db.connect() as conn:
        stored = conn.execute(
            text("SELECT id, notification_id FROM complaints WHERE notification_id = :id"), {"id": nid}
        ).all()
    assert [(str(i), str(n)) for i, n in stored] == [(body["complaint_id"], nid)]
    assert client(service).get_notification_by_id(nid)["status"] == "delivered"
    time.sleep(1.5)
    assert len(callback_receiver.requests("/complaint")) == 1


def test_a_letter_reported_returned_ends_returned_letter_with_one_callback(
    stack: RunningStack,
    admin: AdminClient,
    service: dict[str, Any],
    callback_receiver: CallbackReceiver,
    db: Engine,
) -> None:
    configure(admin, service, "returned_letter", callback_receiver.url("/returned"))
    api = client(service)
    nid = str(
        api.send_letter_notification(
            template_id=service["templates"]["letter"],
            personalisation={
                "address_line_1": "Ada Lovelace",
                "address_line_2": "1 High Street",
                "postcode": "SW1A 1AA",
                "name": "Ada",
                "thing": "licence",
            },
            reference="letter-ref",
        )["id"]
    )
    eventually(lambda: internal_status(db, nid), lambda s: s == "delivered", timeout=60)

    def report() -> httpx.Response:
        return httpx.post(f"{stack.url('print-sim')}/returned", json={"notification_ids": [nid]}, timeout=10)

    reported = report()
    assert reported.status_code == 200, reported.text
    assert reported.json()["answer"] == {"result": "success", "returned": 1}

    eventually(lambda: internal_status(db, nid), lambda s: s == "returned-letter", timeout=30)
    notification = eventually(lambda: status_or_none(api, nid), lambda n: n is not None, timeout=10)
    assert notification["status"] == "received"  # the public API shows a returned letter as received
    (request,) = callback_receiver.wait_for("/returned", 1, timeout=30)
    body = check_request(request, RETURNED_FIELDS)
    template = api.get_template(service["templates"]["letter"])
    assert body == {
        "notification_id": nid,
        "reference": "letter-ref",
        "date_sent": body["date_sent"],
        "sent_by": "API",
        "template_name": template["name"],
        "template_id": service["templates"]["letter"],
        "template_version": notification["template"]["version"],
        "spreadsheet_file_name": None,
        "spreadsheet_row_number": None,
        "upload_letter_file_name": None,
    }
    assert TIMESTAMP.match(body["date_sent"]), body["date_sent"]
    with db.connect() as conn:
        assert (
            conn.execute(
                text("SELECT count(*) FROM returned_letters WHERE notification_id = :id"), {"id": nid}
            ).scalar_one()
            == 1
        )

    # The printer reporting it again changes nothing and calls nobody back twice.
    again = report()
    assert (again.status_code, again.json()["answer"]) == (200, {"result": "success", "returned": 0})
    time.sleep(1.5)
    assert len(callback_receiver.requests("/returned")) == 1


def test_a_one_off_letter_returned_names_the_user_who_sent_it(
    stack: RunningStack,
    admin: AdminClient,
    service: dict[str, Any],
    callback_receiver: CallbackReceiver,
    db: Engine,
) -> None:
    configure(admin, service, "returned_letter", callback_receiver.url("/returned"))
    sent = admin.post(
        f"/service/{service['service_id']}/send-notification",
        {
            "template_id": service["templates"]["letter"],
            "to": "Ada Lovelace",
            "personalisation": {
                "address_line_1": "Ada Lovelace",
                "address_line_2": "1 High Street",
                "postcode": "SW1A 1AA",
                "name": "Ada",
                "thing": "licence",
            },
            "created_by": service["user_id"],
        },
    )
    nid = str(sent["id"])
    eventually(lambda: internal_status(db, nid), lambda s: s == "delivered", timeout=60)
    printer = stack.url("print-sim")
    reference = httpx.get(f"{printer}/letters/{nid}", timeout=5).json()["reference"]
    reported = httpx.post(f"{printer}/returned", json={"references": [reference, "NO-SUCH-REF"]}, timeout=10)
    assert (
        reported.status_code == 409
    )  # the unknown reference is named; the known one is returned all the same
    assert reported.json()["answer"]["unknown"] == ["NO-SUCH-REF"]
    (request,) = callback_receiver.wait_for("/returned", 1, timeout=30)
    body = check_request(request, RETURNED_FIELDS)
    user = admin.get(f"/user/{service['user_id']}")["data"]
    assert (body["notification_id"], body["sent_by"], body["reference"]) == (nid, user["email_address"], None)
    assert internal_status(db, nid) == "returned-letter"
