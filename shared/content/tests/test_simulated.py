import pytest
from notify_content.recipients import (
    is_smoke_test_recipient,
    research_mode_outcome,
    validate_email_address,
    validate_phone_number,
)


@pytest.mark.parametrize("number", ["07700900000", "+44 7700 900111", "0044 7700 900222"])
def test_smoke_test_numbers_match_in_any_format(number):
    assert is_smoke_test_recipient(validate_phone_number(number).normalised)


@pytest.mark.parametrize(
    "address",
    [
        "simulate-delivered@notifications.service.gov.uk",
        "Simulate-Delivered-2@Notifications.Service.Gov.UK",
        "simulate-delivered-3@notifications.service.gov.uk",
    ],
)
def test_smoke_test_emails_case_insensitive(address):
    assert is_smoke_test_recipient(validate_email_address(address).normalised)
    assert is_smoke_test_recipient(address)


@pytest.mark.parametrize(
    "recipient",
    [
        "447700900001",
        "447700900123",
        "someone@example.com",
        "simulate-delivered-4@notifications.service.gov.uk",
    ],
)
def test_other_recipients_are_not_smoke_tests(recipient):
    assert not is_smoke_test_recipient(recipient)


@pytest.mark.parametrize(
    ("channel", "recipient", "outcome"),
    [
        ("sms", "07700900003", "temporary-failure"),
        ("sms", "+447700900003", "temporary-failure"),
        ("sms", "07700900002", "permanent-failure"),
        ("sms", "07700900001", "delivered"),
        ("sms", "07700900123", "delivered"),
        ("email", "temp-fail@simulator.notify", "temporary-failure"),
        ("email", "PERM-FAIL@simulator.notify", "permanent-failure"),
        ("email", "delivered@simulator.notify", "delivered"),
        ("letter", None, "delivered"),
    ],
)
def test_research_mode_outcomes(channel, recipient, outcome):
    assert research_mode_outcome(channel, recipient) == outcome
