"""The message is built with a faster header factory (``notify_delivery_email.mime``); what goes on the wire is
byte for byte what ``email.policy.default`` builds."""

from __future__ import annotations

import email.policy
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

import pytest
from aiosmtplib.email import flatten_message
from notify_contracts import EmailDeliveryRequestedV1
from notify_delivery_email.handlers import send


def _request(**extra: Any) -> EmailDeliveryRequestedV1:
    fields: dict[str, Any] = {
        "notification_id": uuid.uuid4(),
        "service_id": uuid.uuid4(),
        "to": "someone@example.com",
        "subject": "Your parcel is ready",
        "body": "# Hello Ada\n\nYour parcel is ready: https://www.gov.uk/parcel\n\n* Bring ID\n* Bring a bag",
        "from_address": "demo.service@notifications.example",
        "key_type": "normal",
        "created_at": datetime.now(UTC),
    }
    return EmailDeliveryRequestedV1(**{**fields, **extra})


CASES = [
    {},
    {"reply_to": "reply@example.com", "one_click_unsubscribe_url": "https://unsub.example/abc?x=1"},
    {
        "subject": "Ünïcödé — “quoted” and long enough to be folded over more than one line " * 3,
        "body": "Crème brûlée ✓\n\n* a\n* b\n\n" + "a long line " * 40,
        "to": "ÿvonne@example.com",
    },
    {"from_address": '"Dept of Things" <svc@notifications.example>', "reply_to": "Réply <r@example.com>"},
    {"one_click_unsubscribe_url": "https://unsub.example/" + "x" * 200, "subject": "x" * 300},
    {"body": "plain"},
]


def _wire(message: EmailMessage, utf8: bool) -> bytes:
    message.replace_header("Date", "Sun, 22 Nov 2026 17:12:44 +0000")
    message.set_boundary("===============1234567890==")
    return flatten_message(message, utf8=utf8)


@pytest.mark.parametrize("extra", CASES)
@pytest.mark.parametrize("utf8", [False, True])
def test_the_message_is_what_the_default_policy_builds(
    monkeypatch: pytest.MonkeyPatch, extra: dict[str, Any], utf8: bool
) -> None:
    request = _request(**extra)
    for _ in range(2):  # the second time, shared headers come from the factory's cache
        fast = send.build_message(request)
        assert fast.policy is send.POLICY
        with monkeypatch.context() as patched:
            patched.setattr(send, "POLICY", email.policy.default)
            stock = send.build_message(request)
        assert _wire(fast, utf8) == _wire(stock, utf8)
        assert fast.as_string() == stock.as_string()


def test_the_date_header_is_formatted_as_before() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    date = send.build_message(_request())["Date"]
    assert date == format_datetime(date.datetime) and date.endswith(" +0000")
    assert before <= date.datetime <= datetime.now(UTC)


def test_shared_headers_are_parsed_once_and_classes_made_once() -> None:
    factory = send.POLICY.header_factory
    assert factory["To"] is factory["to"]
    first = factory("Content-Type", 'text/plain; charset="utf-8"')
    assert factory("Content-Type", 'text/plain; charset="utf-8"') is first
    assert first.params == {"charset": "utf-8"}
    for _ in range(2):  # folded once per kind of output, then remembered
        assert first.fold(policy=email.policy.SMTP) == 'Content-Type: text/plain; charset="utf-8"\r\n'
        assert first.fold(policy=email.policy.default) == 'Content-Type: text/plain; charset="utf-8"\n'
    one, two = factory("To", "a@example.com"), factory("To", "a@example.com")
    assert one is not two and one == two  # recipients are not kept
