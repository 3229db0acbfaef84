"""Recipient validation: phone numbers (§7.1), email addresses (§7.2), postal addresses (§7.3), simulated
recipients (§3) — section numbers refer to behaviour.md."""

from ..errors import (
    InternationalNotAllowed,
    InvalidAddressError,
    InvalidEmailError,
    InvalidPhoneError,
    InvalidRecipientError,
    NotAUkMobile,
)
from .address import (
    PostageZone,
    PostalAddress,
    address_lines_from_personalisation,
    normalise_line,
    single_line,
    validate_address,
    validate_address_lines,
)
from .countries import find_country, is_uk_name
from .email import EmailAddress, normalise_email_address, validate_email_address
from .phone import PhoneNumber, check_phone_permissions, normalise_phone_number, validate_phone_number
from .postcodes import format_postcode, is_real_uk_postcode
from .simulated import (
    SMOKE_TEST_EMAIL_ADDRESSES,
    SMOKE_TEST_PHONE_NUMBERS,
    is_smoke_test_recipient,
    research_mode_outcome,
)

__all__ = [
    "EmailAddress",
    "InternationalNotAllowed",
    "InvalidAddressError",
    "InvalidEmailError",
    "InvalidPhoneError",
    "InvalidRecipientError",
    "NotAUkMobile",
    "PhoneNumber",
    "PostageZone",
    "PostalAddress",
    "single_line",
    "SMOKE_TEST_EMAIL_ADDRESSES",
    "SMOKE_TEST_PHONE_NUMBERS",
    "address_lines_from_personalisation",
    "check_phone_permissions",
    "find_country",
    "format_postcode",
    "is_real_uk_postcode",
    "is_smoke_test_recipient",
    "is_uk_name",
    "normalise_email_address",
    "normalise_line",
    "normalise_phone_number",
    "research_mode_outcome",
    "validate_address",
    "validate_address_lines",
    "validate_email_address",
    "validate_phone_number",
]
