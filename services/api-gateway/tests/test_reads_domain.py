"""Pure rules of the v2 reads: status expansions, pagination links, template and preview bodies."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from notify_gateway.domain.errors import V2Error
from notify_gateway.domain.reads import (
    NON_LEGACY_STATUSES,
    expand_statuses,
    notifications_links,
    preview_body,
    received_texts_links,
    template_body,
)

ROOT = "https://api.example/"
# The client's pattern for picking older_than out of links.next (public-api.md §11).
CLIENT_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)


def test_failed_expands_to_every_failure_status() -> None:
    assert expand_statuses(["failed"]) == [
        "technical-failure",
        "temporary-failure",
        "permanent-failure",
        "validation-failed",
        "virus-scan-failed",
        "returned-letter",
    ]


def test_letter_statuses_expand_and_plain_statuses_pass_through_without_duplicates() -> None:
    assert expand_statuses(["accepted", "received", "created"]) == ["created", "sending", "delivered"]
    assert expand_statuses(["delivered"]) == ["delivered"]


def test_asking_for_every_non_legacy_status_applies_no_filter() -> None:
    assert expand_statuses(sorted(NON_LEGACY_STATUSES)) == []
    everything_but_one = sorted(NON_LEGACY_STATUSES - {"pending"})
    assert sorted(expand_statuses(everything_but_one)) == everything_but_one
    assert expand_statuses(["failed", "accepted", "received", "cancelled", "sent", "pending"]) != []
    covered = ["failed", "accepted", "received", "cancelled", "sent", "pending", "pending-virus-check"]
    assert expand_statuses(covered) == []


def test_links_without_query_and_empty_page_have_only_current() -> None:
    assert notifications_links(ROOT, {}, []) == {"current": "https://api.example/v2/notifications"}


def test_links_repeat_repeated_params_and_append_older_than_last() -> None:
    query = {"template_type": ["sms", "email"], "status": ["failed"], "reference": "a b&c"}
    links = notifications_links(ROOT, query, [{"id": "x"}, {"id": "11111111-2222-3333-4444-555555555555"}])
    base = "https://api.example/v2/notifications?template_type=sms&template_type=email&status=failed&reference=a+b%26c"
    assert links == {"current": base, "next": base + "&older_than=11111111-2222-3333-4444-555555555555"}


def test_next_replaces_older_than_in_place() -> None:
    query = {"older_than": "aaaaaaaa-0000-0000-0000-000000000000", "status": ["sent"], "include_jobs": "True"}
    last = str(uuid.uuid4())
    links = notifications_links(ROOT, query, [{"id": last}])
    assert links["current"] == (
        "https://api.example/v2/notifications?older_than=aaaaaaaa-0000-0000-0000-000000000000"
        "&status=sent&include_jobs=True"
    )
    assert (
        links["next"]
        == f"https://api.example/v2/notifications?older_than={last}&status=sent&include_jobs=True"
    )
    assert CLIENT_UUID.search(links["next"]).group(0) == last  # type: ignore[union-attr]


def test_received_texts_links_never_repeat_older_than_in_current() -> None:
    last = str(uuid.uuid4())
    assert received_texts_links(ROOT, []) == {"current": "https://api.example/v2/received-text-messages"}
    assert received_texts_links(ROOT, [{"id": last}]) == {
        "current": "https://api.example/v2/received-text-messages",
        "next": f"https://api.example/v2/received-text-messages?older_than={last}",
    }


def _template(kind: str, **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "service_id": str(uuid.uuid4()),
        "name": "Reminder",
        "template_type": kind,
        "content": "Hi ((Name)), ((name)) see ((thing))",
        "subject": "About ((thing))" if kind != "sms" else None,
        "postage": "second" if kind == "letter" else None,
        "archived": False,
        "hidden": False,
        "letter_contact_block": "Call ((phone))" if kind == "letter" else None,
        "has_unsubscribe_link": False,
        "version": 3,
        "created_at": "2026-01-01T10:00:00.000000Z",
        "updated_at": None,
        "created_by": "maker@example.gov.uk",
    }
    return {**base, **overrides}


def test_sms_template_body() -> None:
    t = _template("sms")
    assert template_body(t) == {
        "id": t["id"],
        "type": "sms",
        "created_at": "2026-01-01T10:00:00.000000Z",
        "updated_at": None,
        "created_by": "maker@example.gov.uk",
        "version": 3,
        "body": "Hi ((Name)), ((name)) see ((thing))",
        "subject": None,
        "name": "Reminder",
        "personalisation": {"Name": {"required": True}, "thing": {"required": True}},
        "postage": None,
        "letter_contact_block": None,
    }


def test_letter_template_personalisation_includes_subject_and_contact_block() -> None:
    body = template_body(_template("letter", subject="Your ((ref))"))
    assert body["personalisation"] == {
        "ref": {"required": True},
        "Name": {"required": True},
        "thing": {"required": True},
        "phone": {"required": True},
    }
    assert body["postage"] == "second"
    assert body["letter_contact_block"] == "Call ((phone))"
    assert body["subject"] == "Your ((ref))"


def test_sms_preview_is_sanitised_without_prefix_and_ignores_extra_keys() -> None:
    t = _template("sms", content="Hello  ((name)) \u201cquoted\u201d")
    preview = preview_body(t, {"name": "Ada", "unused": "x"})
    assert preview == {
        "id": t["id"],
        "type": "sms",
        "version": 3,
        "body": 'Hello Ada "quoted"',
        "html": None,
        "subject": None,
        "postage": None,
    }


def test_email_preview_has_subject_and_html() -> None:
    t = _template("email", content="# Hi ((name))\n\nSee https://example.com", subject="For ((name))")
    preview = preview_body(t, {"name": "<Ada>"})
    assert preview["subject"] == "For <Ada>"
    assert preview["body"] == "# Hi <Ada>\n\nSee https://example.com"
    assert "&lt;Ada&gt;" in preview["html"]
    assert "<h2" in preview["html"] and 'href="https://example.com"' in preview["html"]
    assert preview["postage"] is None


def test_letter_preview_fills_subject_and_body_and_has_postage() -> None:
    t = _template("letter", postage="first")
    preview = preview_body(t, {"name": "Ada", "thing": "permit", "phone": "0100"})
    assert preview["subject"] == "About permit"
    assert preview["body"] == "Hi Ada, Ada see permit"
    assert preview["postage"] == "first"
    assert preview["html"] is None


def test_preview_missing_personalisation_is_a_bad_request_listing_names() -> None:
    with pytest.raises(V2Error) as caught:
        preview_body(_template("letter"), {"name": "Ada"})
    assert caught.value.status_code == 400
    assert caught.value.body()["errors"] == [
        {"error": "BadRequestError", "message": "Missing personalisation: thing, phone"}
    ]
    with pytest.raises(V2Error):
        preview_body(_template("sms"), None)
