"""Simulated recipients (behaviour.md §3): smoke-test recipients and the outcomes of test-key sends."""

from __future__ import annotations

from typing import Literal

SMOKE_TEST_PHONE_NUMBERS = frozenset({"447700900000", "447700900111", "447700900222"})
SMOKE_TEST_EMAIL_ADDRESSES = frozenset(
    {
        "simulate-delivered@notifications.service.gov.uk",
        "simulate-delivered-2@notifications.service.gov.uk",
        "simulate-delivered-3@notifications.service.gov.uk",
    }
)

TestOutcome = Literal["delivered", "temporary-failure", "permanent-failure"]
_PHONE_TEMPORARY_FAILURE_SUFFIX = "7700900003"
_PHONE_PERMANENT_FAILURE_SUFFIX = "7700900002"
_EMAIL_OUTCOMES: dict[str, TestOutcome] = {
    "temp-fail@simulator.notify": "temporary-failure",
    "perm-fail@simulator.notify": "permanent-failure",
}


def is_smoke_test_recipient(normalised: str) -> bool:
    """True for the smoke-test numbers/addresses.

    Pass the *normalised* recipient (phone: E.164 digits; email: lower-case).  The comparison also lower-cases,
    so a caller holding the submitted email address gets the right answer too.
    """
    return normalised in SMOKE_TEST_PHONE_NUMBERS or normalised.lower() in SMOKE_TEST_EMAIL_ADDRESSES


def research_mode_outcome(notification_type: str, submitted_recipient: str | None) -> TestOutcome:
    """Final status a test-key ("research mode") notification reaches.

    Phones are matched on the *submitted* text (Notify checks its ending), emails case-insensitively; letters
    and every other recipient end ``delivered``.
    """
    recipient = (submitted_recipient or "").strip()
    if notification_type == "sms":
        if recipient.endswith(_PHONE_TEMPORARY_FAILURE_SUFFIX):
            return "temporary-failure"
        if recipient.endswith(_PHONE_PERMANENT_FAILURE_SUFFIX):
            return "permanent-failure"
    elif notification_type == "email":
        return _EMAIL_OUTCOMES.get(recipient.lower(), "delivered")
    return "delivered"
