"""Send a file by email (public-api.md §8) end to end with the real client's ``prepare_upload``: the link in the
body, downloading with and without confirming the address, smoke tests, the contact-link rule, SMS refused."""

from __future__ import annotations

import io
import re
import time
from typing import Any

import httpx
import pytest
from notifications_python_client import prepare_upload
from notifications_python_client.errors import HTTPError
from notifications_python_client.notifications import NotificationsAPIClient
from notify_tools.admin_client import AdminClient
from notify_tools.demo import create_demo
from notify_tools.launcher import RunningStack
from sqlalchemy import text
from sqlalchemy.engine import Engine

pytestmark = pytest.mark.integration

CSV = b"name,reference\nAda,42\n"
RECIPIENT = "File.Person@example.com"
LINK = re.compile(r"(http://\S+/d/[0-9a-f-]{36}/[0-9a-f-]{36}\?key=[A-Za-z0-9_-]+)")


@pytest.fixture(scope="module")
def files_service(stack: RunningStack, demo: dict[str, Any], admin: AdminClient) -> dict[str, Any]:
    """The demo service with a contact link and an email template that has a ((link)) placeholder."""
    sid = demo["service_id"]
    admin.post(f"/service/{sid}", {"contact_link": "https://example.gov.uk/contact"})
    owner = admin.get(f"/service/{sid}")["data"]
    user_id = owner.get("created_by") or owner.get("users", [None])[0]
    template = admin.post(
        f"/service/{sid}/template",
        {
            "name": "File email",
            "template_type": "email",
            "subject": "Your file",
            "content": "Hello, download your file: ((link))",
            "service": sid,
            "created_by": user_id,
        },
    )["data"]
    return {**demo, "file_template": template["id"]}


def _client(stack: RunningStack, svc: dict[str, Any], key_type: str = "normal") -> NotificationsAPIClient:
    return NotificationsAPIClient(svc["api_keys"][key_type], base_url=stack.base_url)


def _send(client: NotificationsAPIClient, svc: dict[str, Any], to: str, **upload: Any) -> dict[str, Any]:
    """Send, waiting (briefly) until the gateway has seen the service's new contact link."""
    deadline = time.monotonic() + 40
    while True:
        try:
            return client.send_email_notification(  # type: ignore[no-any-return]
                email_address=to,
                template_id=svc["file_template"],
                personalisation={"link": prepare_upload(io.BytesIO(CSV), **upload)},
            )
        except HTTPError as exc:
            if "has not been set up" not in str(exc.message) or time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _documents(db: Engine, service_id: str) -> int:
    with db.connect() as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM documents WHERE service_id = :s"), {"s": service_id}
            ).scalar_one()
        )


def _link(response: dict[str, Any]) -> str:
    match = LINK.search(response["content"]["body"])
    assert match, response["content"]["body"]
    return match.group(1)


def test_file_with_confirmation(stack: RunningStack, files_service: dict[str, Any], db: Engine) -> None:
    client = _client(stack, files_service)
    before = _documents(db, files_service["service_id"])
    response = _send(client, files_service, RECIPIENT, filename="people.csv", retention_period="4 weeks")
    link = _link(response)
    assert response["content"]["body"].startswith("Hello, download your file: http")
    assert _documents(db, files_service["service_id"]) == before + 1
    with db.connect() as conn:
        row = conn.execute(
            text(
                "SELECT filename, mime_type, size, content_encrypted, recipient_hash FROM documents WHERE id = :i"
            ),
            {"i": link.split("/")[-1].split("?")[0]},
        ).one()
    assert (row.filename, row.mime_type, row.size) == ("people.csv", "text/csv", len(CSV))
    assert CSV not in bytes(row.content_encrypted)  # encrypted at rest
    assert "file.person" not in (row.recipient_hash or "")

    with httpx.Client(timeout=10) as http:
        page = http.get(link)
        assert page.status_code == 200
        assert "text/html" in page.headers["content-type"]
        assert 'name="email_address"' in page.text and CSV.decode() not in page.text

        refused = http.post(link, data={"email_address": "someone.else@example.com"})
        assert refused.status_code == 200
        assert "not the email address" in refused.text
        assert refused.content != CSV

        served = http.post(link, data={"email_address": "  file.person@EXAMPLE.com "})
        assert served.status_code == 200
        assert served.content == CSV
        assert served.headers["content-type"].startswith("text/csv")
        assert 'filename="people.csv"' in served.headers["content-disposition"]
        assert served.headers["x-content-type-options"] == "nosniff"

        wrong_key = http.get(re.sub(r"key=.*", "key=" + "A" * 43, link))
        assert wrong_key.status_code == 404
        unknown = http.get(
            link.replace(link.split("/")[-1].split("?")[0], "00000000-0000-0000-0000-000000000000")
        )
        assert unknown.status_code == 404


def test_file_without_confirmation_is_served_directly(
    stack: RunningStack, files_service: dict[str, Any]
) -> None:
    response = _send(
        _client(stack, files_service),
        files_service,
        RECIPIENT,
        filename="list.csv",
        confirm_email_before_download=False,
    )
    served = httpx.get(_link(response), timeout=10)
    assert served.status_code == 200
    assert served.content == CSV
    assert served.headers["x-content-type-options"] == "nosniff"
    assert "list.csv" in served.headers["content-disposition"]


def test_expired_document_is_not_found(
    stack: RunningStack, files_service: dict[str, Any], db: Engine
) -> None:
    response = _send(
        _client(stack, files_service),
        files_service,
        RECIPIENT,
        filename="old.csv",
        confirm_email_before_download=False,
    )
    link = _link(response)
    with db.begin() as conn:
        conn.execute(
            text("UPDATE documents SET expires_at = now() - interval '1 minute' WHERE id = :i"),
            {"i": link.split("/")[-1].split("?")[0]},
        )
    assert httpx.get(link, timeout=10).status_code == 404


def test_smoke_test_recipient_gets_a_link_but_nothing_is_stored(
    stack: RunningStack, files_service: dict[str, Any], db: Engine
) -> None:
    before = _documents(db, files_service["service_id"])
    response = _send(
        _client(stack, files_service),
        files_service,
        "simulate-delivered@notifications.service.gov.uk",
        filename="people.csv",
    )
    assert f"/d/{files_service['service_id']}/test-document" in response["content"]["body"]
    assert _documents(db, files_service["service_id"]) == before


def test_service_without_contact_link(stack: RunningStack) -> None:
    other = create_demo(stack.base_url, stack.admin_secret)
    client = _client(stack, other)
    with pytest.raises(HTTPError) as raised:
        client.send_email_notification(
            email_address=RECIPIENT,
            template_id=other["templates"]["email"],
            personalisation={"name": "Ada", "thing": prepare_upload(io.BytesIO(CSV), filename="a.csv")},
        )
    assert raised.value.status_code == 400
    assert raised.value.message == [
        {
            "error": "BadRequestError",
            "message": "Send files by email has not been set up - add contact details for your service at "
            f"https://www.notifications.service.gov.uk/services/{other['service_id']}"
            "/service-settings/send-files-by-email",
        }
    ]


def test_sms_with_a_file_is_refused(stack: RunningStack, demo: dict[str, Any]) -> None:
    with pytest.raises(HTTPError) as raised:
        _client(stack, demo).send_sms_notification(
            phone_number="07700900123",
            template_id=demo["templates"]["sms"],
            personalisation={"name": "Ada", "reference": prepare_upload(io.BytesIO(CSV), filename="a.csv")},
        )
    assert raised.value.status_code == 400
    assert raised.value.message == [{"error": "BadRequestError", "message": "Can only send a file by email"}]


def test_file_validation_error_through_the_api(stack: RunningStack, files_service: dict[str, Any]) -> None:
    with pytest.raises(HTTPError) as raised:
        _send(
            _client(stack, files_service),
            files_service,
            RECIPIENT,
            filename="people",
            retention_period="99 weeks",
        )
    assert raised.value.status_code == 400
    assert raised.value.message == [
        {
            "error": "ValidationError",
            "message": "retention_period Unsupported value for retention_period: 99 weeks. "
            "Supported periods are from 1 to 78 weeks.",
        },
        {
            "error": "ValidationError",
            "message": "filename `filename` must end with a file extension. For example, filename.csv",
        },
    ]
