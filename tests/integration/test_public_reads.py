"""Public v2 reads with the real ``notifications-python-client``: notification lists (filters, key types, pages),
templates, previews and received text messages, every documented error, and Notify's response schemas."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft7Validator
from notifications_python_client.errors import HTTPError
from notifications_python_client.notifications import NotificationsAPIClient
from notify_tools.admin_client import AdminClient
from notify_tools.demo import create_demo
from notify_tools.launcher import RunningStack
from sqlalchemy import text
from sqlalchemy.engine import Engine

from .helpers import eventually

SCHEMAS = Path("/work/shared/reference/notify-json-schemas")
VALID_STATUSES = (
    "cancelled, created, sending, sent, delivered, pending, failed, technical-failure, temporary-failure, "
    "permanent-failure, pending-virus-check, validation-failed, virus-scan-failed, returned-letter, accepted, "
    "received"
)


# --------------------------------------------------------------------------------------------------
# fixtures and helpers


def _schema(name: str) -> Draft7Validator:
    path = SCHEMAS / f"{name}.json"
    if not path.exists():
        pytest.skip(f"Notify's JSON schemas are not available at {SCHEMAS}")
    schema = json.loads(path.read_text())
    # public-api.md §6.4-§6.6: postage is null for sms and email templates; Notify's schema types it as a string
    # only (its API never validates responses). Allow the null the spec requires, nothing else.
    for holder in (schema, *schema.get("definitions", {}).values()):
        props = holder.get("properties", {})
        if "postage" in props:
            props["postage"] = {"anyOf": [props["postage"], {"type": "null"}]}
    return Draft7Validator(schema)


def assert_matches(schema: str, body: dict[str, Any]) -> None:
    errors = [e.message for e in _schema(schema).iter_errors(body)]
    assert errors == [], errors


def _errors(call: Callable[[], Any]) -> tuple[int, Any]:
    with pytest.raises(HTTPError) as caught:
        call()
    return caught.value.status_code, caught.value.message


def _error(call: Callable[[], Any]) -> tuple[int, str, str]:
    status, message = _errors(call)
    assert isinstance(message, list) and len(message) == 1, message
    return status, message[0]["error"], message[0]["message"]


@pytest.fixture(scope="module")
def svc(stack: RunningStack) -> dict[str, Any]:
    """A service of this module's own, so the lists hold only what these tests put there."""
    return create_demo(stack.base_url, stack.admin_secret)


@pytest.fixture(scope="module")
def clients(stack: RunningStack, svc: dict[str, Any]) -> dict[str, NotificationsAPIClient]:
    return {k: NotificationsAPIClient(v, base_url=stack.base_url) for k, v in svc["api_keys"].items()}


def _service_owner(db: Engine, service_id: str) -> uuid.UUID:
    with db.connect() as conn:
        return conn.execute(
            text("SELECT created_by_id FROM services WHERE id = :id"), {"id": service_id}
        ).scalar_one()


def _letter_rows(service_id: str, template_id: str, key_type: str, n: int) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    statuses = ["created", "sending", "delivered", "returned-letter", "cancelled"]
    return [
        {
            "id": uuid.uuid4(),
            "service_id": service_id,
            "template_id": template_id,
            "template_version": 1,
            "notification_type": "letter",
            "key_type": key_type,
            "recipient": "A Person",
            "normalised_recipient": "a person",
            "personalisation": json.dumps(
                {"address_line_1": "A Person", "address_line_2": f"{i} High Street", "postcode": "SW1A 1AA"}
            ),
            "status": statuses[i % len(statuses)],
            "body": "Dear A",
            "subject": "About it",
            "postage": "second",
            "created_at": now - timedelta(seconds=i),
        }
        for i in range(n)
    ]


def _insert(db: Engine, table: str, rows: list[dict[str, Any]]) -> None:
    columns = list(rows[0])
    values = ", ".join(f"CAST(:{c} AS JSONB)" if c == "personalisation" else f":{c}" for c in columns)
    with db.begin() as conn:
        conn.execute(text(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({values})"), rows)


# --------------------------------------------------------------------------------------------------
# GET /v2/notifications


def test_list_filters_and_key_type_isolation(
    stack: RunningStack, svc: dict[str, Any], clients: dict[str, NotificationsAPIClient]
) -> None:
    normal, test = clients["normal"], clients["test"]
    reference = f"case-{uuid.uuid4()}"
    sms = normal.send_sms_notification(
        phone_number="07700900400",
        template_id=svc["templates"]["sms"],
        personalisation={"name": "Ada", "reference": "R1"},
        reference=reference,
    )
    email = normal.send_email_notification(
        email_address="reader@example.gov.uk",
        template_id=svc["templates"]["email"],
        personalisation={"name": "Ada", "thing": "permit"},
    )
    failing = test.send_sms_notification(
        phone_number="07700900002",
        template_id=svc["templates"]["sms"],
        personalisation={"name": "B", "reference": "R2"},
    )

    page = eventually(normal.get_all_notifications, lambda r: len(r["notifications"]) >= 2)
    assert_matches("app_v2_notifications_notification_schemas__get_notifications_response", page)
    assert [n["id"] for n in page["notifications"]] == [email["id"], sms["id"]]  # newest first
    assert failing["id"] not in {n["id"] for n in page["notifications"]}
    assert page["links"] == {
        "current": f"{stack.base_url}/v2/notifications",
        "next": f"{stack.base_url}/v2/notifications?older_than={sms['id']}",
    }
    first = page["notifications"][1]
    assert first["phone_number"] == "07700900400"
    assert first["reference"] == reference
    assert first["body"] == "Hello Ada, your reference is R1."
    assert first["template"]["uri"] == f"{stack.base_url}/v2/template/{svc['templates']['sms']}/version/1"

    # The test key sees only its own notification; GET by id still works across key types.
    test_page = eventually(
        lambda: test.get_all_notifications(status="failed"), lambda r: len(r["notifications"]) == 1
    )
    assert [n["id"] for n in test_page["notifications"]] == [failing["id"]]
    assert test_page["notifications"][0]["status"] == "permanent-failure"
    assert test.get_all_notifications(status="delivered")["notifications"] == []
    assert normal.get_notification_by_id(sms["id"])["id"] == sms["id"]
    assert clients["team"].get_all_notifications()["notifications"] == []

    only_email = normal.get_all_notifications(template_type="email")
    assert [n["id"] for n in only_email["notifications"]] == [email["id"]]
    both = normal.get_all_notifications(template_type=["sms", "email"], include_jobs=True)
    assert [n["id"] for n in both["notifications"]] == [email["id"], sms["id"]]
    assert both["links"]["current"] == (
        f"{stack.base_url}/v2/notifications?template_type=sms&template_type=email&include_jobs=True"
    )

    # A reference that contains a UUID: exact match, and older_than comes after it in links.next.
    by_ref = normal.get_all_notifications(reference=reference)
    assert [n["id"] for n in by_ref["notifications"]] == [sms["id"]]
    assert by_ref["links"]["next"] == (
        f"{stack.base_url}/v2/notifications?reference={reference}&older_than={sms['id']}"
    )
    assert normal.get_all_notifications(reference="no-such-reference")["notifications"] == []

    # older_than: strictly older; nothing older or an unknown id gives an empty page, not an error.
    older = normal.get_all_notifications(older_than=email["id"])
    assert [n["id"] for n in older["notifications"]] == [sms["id"]]
    # An id of the service's own from another key type only sets the point in time (as Notify does).
    anchored = normal.get_all_notifications(older_than=failing["id"])
    assert [n["id"] for n in anchored["notifications"]] == [email["id"], sms["id"]]
    for anchor in (sms["id"], str(uuid.uuid4())):
        empty = normal.get_all_notifications(older_than=anchor)
        assert empty == {
            "notifications": [],
            "links": {"current": f"{stack.base_url}/v2/notifications?older_than={anchor}"},
        }
        assert_matches("app_v2_notifications_notification_schemas__get_notifications_response", empty)


def test_iterator_walks_every_page_and_letters_show_public_statuses(
    svc: dict[str, Any], clients: dict[str, NotificationsAPIClient], db: Engine
) -> None:
    rows = _letter_rows(svc["service_id"], svc["templates"]["letter"], "team", 260)
    _insert(db, "notifications", rows)
    team = clients["team"]

    first = team.get_all_notifications()
    assert len(first["notifications"]) == 250
    assert_matches("app_v2_notifications_notification_schemas__get_notifications_response", first)

    seen = list(team.get_all_notifications_iterator())
    assert [n["id"] for n in seen] == [str(r["id"]) for r in rows]  # all of them, newest first, once each
    by_id = {n["id"]: n for n in seen}
    expected = {"created": "accepted", "sending": "accepted", "delivered": "received"}
    expected |= {"returned-letter": "received", "cancelled": "cancelled"}
    for row in rows[:5]:
        shown = by_id[str(row["id"])]
        assert shown["status"] == expected[row["status"]]
        assert shown["type"] == "letter"
        assert shown["line_1"] == "A Person" and shown["postcode"] == "SW1A 1AA"
        assert shown["phone_number"] is None and shown["email_address"] is None

    received = list(team.get_all_notifications_iterator(status="received", template_type="letter"))
    assert {n["id"] for n in received} == {str(r["id"]) for r in rows if r["status"] == "delivered"}
    accepted = team.get_all_notifications(status=["accepted", "cancelled"])["notifications"]
    assert {n["id"] for n in accepted} == {
        str(r["id"]) for r in rows if r["status"] in ("created", "sending", "cancelled")
    }
    assert len(accepted) == 156
    failed = team.get_all_notifications(status="failed")["notifications"]
    assert {n["id"] for n in failed} == {str(r["id"]) for r in rows if r["status"] == "returned-letter"}
    assert all(n["status"] == "received" for n in failed)
    assert clients["normal"].get_all_notifications(template_type="letter")["notifications"] == []


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"status": "bad"}, f"status bad is not one of [{VALID_STATUSES}]"),
        ({"template_type": "Apple"}, "template_type Apple is not one of [sms, email, letter]"),
        ({"older_than": "not-a-uuid"}, "older_than is not a valid UUID"),
        ({"include_jobs": "false"}, "include_jobs false is not one of [true, True]"),
        ({"foo": "1", "bar": "2"}, "Additional properties are not allowed (bar, foo were unexpected)"),
        ({"foo": "1"}, "Additional properties are not allowed (foo was unexpected)"),
    ],
)
def test_list_errors(
    clients: dict[str, NotificationsAPIClient], params: dict[str, str], message: str
) -> None:
    assert _error(lambda: clients["normal"].get("/v2/notifications", params=params)) == (
        400,
        "ValidationError",
        message,
    )


# --------------------------------------------------------------------------------------------------
# templates


def test_get_template_and_versions(
    stack: RunningStack, svc: dict[str, Any], clients: dict[str, NotificationsAPIClient], db: Engine
) -> None:
    client = clients["normal"]
    tid = svc["templates"]["email"]
    latest = client.get_template(tid)
    assert_matches("app_v2_template_template_schemas__get_template_by_id_response", latest)
    owner = _service_owner(db, svc["service_id"])
    with db.connect() as conn:
        owner_email = conn.execute(
            text("SELECT email_address FROM users WHERE id = :id"), {"id": owner}
        ).scalar()
    assert latest == {
        "id": tid,
        "type": "email",
        "created_at": latest["created_at"],
        "updated_at": None,
        "created_by": owner_email,
        "version": 1,
        "body": "# Hello ((name))\n\nYour ((thing)) is ready to collect.\n\n* Bring ID\n* Bring your reference",
        "subject": "Your ((thing)) is ready",
        "name": "Demo email",
        "personalisation": {"thing": {"required": True}, "name": {"required": True}},
        "postage": None,
        "letter_contact_block": None,
    }
    assert client.get_template_version(tid, 1) == latest
    assert client.get_template_version(tid, 0) == latest

    letter = client.get_template(svc["templates"]["letter"])
    assert letter["postage"] == "second"
    assert letter["subject"] == "About your ((thing))"
    sms = client.get_template(svc["templates"]["sms"])
    assert sms["subject"] is None and sms["postage"] is None
    assert list(sms["personalisation"]) == ["name", "reference"]

    # A second version made by another user: latest shows it, version 1 still shows the first maker.
    editor = uuid.uuid4()
    with db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (id, name, email_address, password_hash) "
                "VALUES (:id, 'Editor', :email, 'x')"
            ),
            {"id": editor, "email": f"editor-{editor}@example.gov.uk"},
        )
    admin = AdminClient(stack.base_url, stack.admin_secret)
    admin.post(
        f"/service/{svc['service_id']}/template/{tid}",
        {"content": "New ((colour)) body", "archived": True, "created_by": str(editor)},
    )
    admin.close()
    v2 = eventually(lambda: client.get_template(tid), lambda t: t["version"] == 2, timeout=5)
    assert v2["created_by"] == f"editor-{editor}@example.gov.uk"
    assert v2["body"] == "New ((colour)) body"
    assert v2["personalisation"] == {"thing": {"required": True}, "colour": {"required": True}}
    assert v2["updated_at"] is not None
    assert client.get_template_version(tid, 2)["created_by"] == v2["created_by"]
    assert client.get_template_version(tid, 1)["created_by"] == owner_email
    assert client.get_template_version(tid, 1)["body"] == latest["body"]
    # Archived: still returned by id (above), but no longer listed.
    listed = eventually(
        lambda: client.get_all_templates(), lambda r: tid not in {t["id"] for t in r["templates"]}, timeout=5
    )
    assert tid not in {t["id"] for t in listed["templates"]}


def test_template_errors(
    stack: RunningStack, demo: dict[str, Any], svc: dict[str, Any], clients: dict[str, NotificationsAPIClient]
) -> None:
    client = clients["normal"]
    tid = svc["templates"]["sms"]
    not_found = (404, "NoResultFound", "No result found")
    assert _error(lambda: client.get_template("not-a-uuid")) == (
        400,
        "ValidationError",
        "id is not a valid UUID",
    )
    assert _error(lambda: client.get_template_version("nope", 1)) == (
        400,
        "ValidationError",
        "id is not a valid UUID",
    )
    assert _error(lambda: client.get_template(str(uuid.uuid4()))) == not_found
    assert _error(lambda: client.get_template(demo["templates"]["sms"])) == not_found  # another service's
    assert _error(lambda: client.get_template_version(tid, 7)) == not_found
    status, message = _errors(lambda: client.get_template_version(tid, "abc"))
    assert status == 404
    assert isinstance(message, str) and message.startswith("The requested URL was not found on the server.")
    assert _error(lambda: client.get_all_templates(template_type="fax")) == (
        400,
        "ValidationError",
        "type fax is not one of [sms, email, letter]",
    )
    assert _error(lambda: client.get("/v2/templates", params={"kind": "sms"})) == (
        400,
        "ValidationError",
        "Additional properties are not allowed (kind was unexpected)",
    )


def test_hidden_template_is_not_found_and_not_listed(
    svc: dict[str, Any], clients: dict[str, NotificationsAPIClient], db: Engine
) -> None:
    hidden = uuid.uuid4()
    owner = _service_owner(db, svc["service_id"])
    with db.begin() as conn:
        for table in ("templates", "template_versions"):
            conn.execute(
                text(
                    f"INSERT INTO {table} (id, name, template_type, content, subject, postage, archived, hidden, "
                    "has_unsubscribe_link, service_id, created_by_id, created_at, version) VALUES (:id, "
                    "'Pre-compiled PDF', 'letter', '', 'Pre-compiled PDF', 'second', false, true, false, :sid, "
                    ":owner, now(), 1)"
                ),
                {"id": hidden, "sid": svc["service_id"], "owner": owner},
            )
    client = clients["normal"]
    assert _error(lambda: client.get_template(str(hidden))) == (404, "NoResultFound", "No result found")
    assert _error(lambda: client.get_template_version(str(hidden), 1))[0] == 404
    assert _error(lambda: client.post_template_preview(str(hidden), {}))[0] == 404
    assert str(hidden) not in {t["id"] for t in client.get_all_templates(template_type="letter")["templates"]}


def test_get_all_templates(svc: dict[str, Any], clients: dict[str, NotificationsAPIClient]) -> None:
    client = clients["test"]
    everything = client.get_all_templates()
    assert_matches("app_v2_templates_templates_schemas__get_all_template_response", everything)
    names = [(t["name"], t["type"]) for t in everything["templates"]]
    assert names == sorted(names)
    assert {t["id"] for t in everything["templates"]} <= set(svc["templates"].values())
    assert svc["templates"]["sms"] in {t["id"] for t in everything["templates"]}
    letters = client.get_all_templates(template_type="letter")["templates"]
    assert [t["id"] for t in letters] == [svc["templates"]["letter"]]
    assert letters[0]["personalisation"] == {"thing": {"required": True}, "name": {"required": True}}


# --------------------------------------------------------------------------------------------------
# preview


def test_post_template_preview(svc: dict[str, Any], clients: dict[str, NotificationsAPIClient]) -> None:
    client = clients["team"]
    sms = client.post_template_preview(
        svc["templates"]["sms"], {"name": "Ada\u2019s", "reference": "R-1", "extra": "ignored"}
    )
    assert_matches("app_v2_template_template_schemas__post_template_preview_response", sms)
    assert sms == {
        "id": svc["templates"]["sms"],
        "type": "sms",
        "version": 1,
        "body": "Hello Ada's, your reference is R-1.",
        "html": None,
        "subject": None,
        "postage": None,
    }
    letter = client.post_template_preview(svc["templates"]["letter"], {"name": "Ada", "thing": "permit"})
    assert_matches("app_v2_template_template_schemas__post_template_preview_response", letter)
    assert letter["subject"] == "About your permit"
    assert letter["body"] == "Dear Ada,\n\nYour permit has been approved."
    assert letter["postage"] == "second" and letter["html"] is None


def test_email_preview_has_html(stack: RunningStack) -> None:
    # The module's email template gets a second version in another test; use a fresh service's.
    other = create_demo(stack.base_url, stack.admin_secret)
    client = NotificationsAPIClient(other["api_keys"]["normal"], base_url=stack.base_url)
    email = client.post_template_preview(other["templates"]["email"], {"name": "Ada", "thing": "permit"})
    assert_matches("app_v2_template_template_schemas__post_template_preview_response", email)
    assert email["subject"] == "Your permit is ready"
    assert email["body"].startswith("# Hello Ada\n\nYour permit is ready to collect.")
    assert "Hello Ada" in email["html"] and "<li" in email["html"]
    assert email["postage"] is None


def test_preview_errors_and_empty_body(
    stack: RunningStack, svc: dict[str, Any], clients: dict[str, NotificationsAPIClient]
) -> None:
    client = clients["normal"]
    tid = svc["templates"]["sms"]
    assert _error(lambda: client.post_template_preview(tid, None)) == (
        400,
        "ValidationError",
        "personalisation None is not of type object",
    )
    assert _error(lambda: client.post_template_preview(tid, {"name": "A"})) == (
        400,
        "BadRequestError",
        "Missing personalisation: reference",
    )
    assert _error(lambda: client.post_template_preview(str(uuid.uuid4()), {})) == (
        404,
        "NoResultFound",
        "No result found",
    )
    assert _error(lambda: client.post_template_preview("bad", {}))[2] == "id is not a valid UUID"

    # An empty body is a preview with no personalisation (the client cannot send one; sign a request by hand).
    filled = client.post_template_preview(tid, {"name": "A", "reference": "B"})
    url, kwargs = client._create_request_objects(f"/v2/template/{tid}/preview", None, None)
    response = httpx.post(url, headers=kwargs["headers"], content=b"", timeout=10)
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"error": "BadRequestError", "message": "Missing personalisation: name, reference"}
    ]
    assert filled["body"] == "Hello A, your reference is B."


# --------------------------------------------------------------------------------------------------
# received text messages


def test_received_texts_and_iterator(
    stack: RunningStack,
    demo: dict[str, Any],
    svc: dict[str, Any],
    clients: dict[str, NotificationsAPIClient],
    db: Engine,
) -> None:
    client = clients["normal"]
    empty = client.get_received_texts()
    assert empty == {
        "received_text_messages": [],
        "links": {"current": f"{stack.base_url}/v2/received-text-messages"},
    }

    now = datetime.now(UTC)
    rows = [
        {
            "id": uuid.uuid4(),
            "service_id": svc["service_id"],
            "notify_number": "07700900456",
            "user_number": "447700900123",
            "content": f"Message {i}",
            "provider_date": now,
            "provider_reference": f"prov-{i}",
            "created_at": now - timedelta(seconds=i),
        }
        for i in range(255)
    ]
    expired = {**rows[0], "id": uuid.uuid4(), "created_at": now - timedelta(days=8)}
    elsewhere = {**rows[0], "id": uuid.uuid4(), "service_id": demo["service_id"]}
    _insert(db, "inbound_sms", [*rows, expired, elsewhere])

    page = client.get_received_texts()
    assert_matches("app_v2_inbound_sms_inbound_sms_schemas__get_inbound_sms_response", page)
    assert len(page["received_text_messages"]) == 250
    assert page["received_text_messages"][0] == {
        "id": str(rows[0]["id"]),
        "user_number": "447700900123",
        "notify_number": "07700900456",
        "created_at": page["received_text_messages"][0]["created_at"],
        "service_id": svc["service_id"],
        "content": "Message 0",
    }
    last = page["received_text_messages"][-1]["id"]
    assert page["links"] == {
        "current": f"{stack.base_url}/v2/received-text-messages",
        "next": f"{stack.base_url}/v2/received-text-messages?older_than={last}",
    }
    second = client.get_received_texts(older_than=last)
    assert [m["id"] for m in second["received_text_messages"]] == [str(r["id"]) for r in rows[250:]]
    assert second["links"]["current"] == f"{stack.base_url}/v2/received-text-messages"

    seen = [m["id"] for m in client.get_received_texts_iterator()]
    assert seen == [str(r["id"]) for r in rows]
    assert client.get_received_texts(older_than=str(rows[-1]["id"]))["received_text_messages"] == []
    assert client.get_received_texts(older_than=str(uuid.uuid4()))["received_text_messages"] == []
    assert client.get_received_texts(older_than=str(elsewhere["id"]))["received_text_messages"] == []

    assert _error(lambda: client.get_received_texts(older_than="yesterday")) == (
        400,
        "ValidationError",
        "older_than is not a valid UUID",
    )
    assert _error(lambda: client.get("/v2/received-text-messages", params={"page": "2"})) == (
        400,
        "ValidationError",
        "Additional properties are not allowed (page was unexpected)",
    )


def test_new_read_routes_are_documented(stack: RunningStack) -> None:
    spec = httpx.get(f"{stack.base_url}/openapi.json", timeout=10).json()
    paths = spec["paths"]
    expected = {
        ("/v2/notifications", "get"): "NotificationList",
        ("/v2/template/{template_id}", "get"): "Template",
        ("/v2/template/{template_id}/version/{version}", "get"): "Template",
        ("/v2/templates", "get"): "TemplateList",
        ("/v2/template/{template_id}/preview", "post"): "TemplatePreview",
        ("/v2/received-text-messages", "get"): "ReceivedTextMessageList",
    }
    for (path, method), model in expected.items():
        ok = paths[path][method]["responses"]["200"]["content"]["application/json"]["schema"]
        assert ok == {"$ref": f"#/components/schemas/{model}"}, path
        assert "400" in paths[path][method]["responses"]
    assert "next" in spec["components"]["schemas"]["PageLinks"]["properties"]
    assert paths["/v2/notifications/{notification_id}"]["get"]  # the single read is still there
