"""Phone number validation (behaviour.md §7.1), built on libphonenumber with the UK as the default region.

Contract:
* :func:`validate_phone_number` either returns a :class:`PhoneNumber` or raises ``InvalidPhoneError`` whose
  ``.message`` is one of Notify's five schema-stage messages.
* :func:`check_phone_permissions` applies the service-permission rules afterwards (international, landlines).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType, ValidationResult

from ..errors import InternationalNotAllowed, InvalidPhoneError, NotAUkMobile
from .rates import UK_COUNTRY_CODE, is_priced, rate_multiplier

TOO_MANY_DIGITS = "Too many digits"
NOT_ENOUGH_DIGITS = "Not enough digits"
LETTERS_OR_SYMBOLS = "Must not contain letters or symbols"
BAD_COUNTRY_PREFIX = "Not a valid country prefix"
NOT_VALID = "Number is not valid – double check the phone number you entered"
NOT_UK_MOBILE = "Not a UK mobile number"

_DEFAULT_REGION = "GB"
_ALLOWED_SYMBOLS = frozenset("()+-")
_ALLOWED_TYPES = frozenset(
    {
        PhoneNumberType.MOBILE,
        PhoneNumberType.FIXED_LINE,
        PhoneNumberType.FIXED_LINE_OR_MOBILE,
        PhoneNumberType.UAN,
        PhoneNumberType.PERSONAL_NUMBER,
    }
)
# Ofcom reserves 07700 900000-900999 for drama; libphonenumber calls them invalid but Notify accepts the
# whole 7700 prefix (it hosts the smoke-test numbers).
_DRAMA_PREFIX = "7700"
_UK_MOBILE_NSN_LENGTH = 10

_NATIONAL_FORMAT = re.compile(r"[\s(]*0[\s()-]*[1-9]")
_LENGTH_MESSAGES = frozenset({TOO_MANY_DIGITS, NOT_ENOUGH_DIGITS})
_REASON_MESSAGES = {
    ValidationResult.TOO_LONG: TOO_MANY_DIGITS,
    ValidationResult.TOO_SHORT: NOT_ENOUGH_DIGITS,
    ValidationResult.IS_POSSIBLE_LOCAL_ONLY: NOT_ENOUGH_DIGITS,
    ValidationResult.INVALID_COUNTRY_CODE: BAD_COUNTRY_PREFIX,
    ValidationResult.INVALID_LENGTH: NOT_VALID,
}
_PARSE_ERROR_MESSAGES = {
    NumberParseException.INVALID_COUNTRY_CODE: BAD_COUNTRY_PREFIX,
    NumberParseException.NOT_A_NUMBER: NOT_ENOUGH_DIGITS,
    NumberParseException.TOO_SHORT_AFTER_IDD: NOT_ENOUGH_DIGITS,
    NumberParseException.TOO_SHORT_NSN: NOT_ENOUGH_DIGITS,
    NumberParseException.TOO_LONG: TOO_MANY_DIGITS,
}


@dataclass(frozen=True, slots=True)
class PhoneNumber:
    """A validated number.

    ``submitted`` is the caller's text, trimmed (kept for display); ``normalised`` is E.164 without ``+``
    (used for sending, guest lists, smoke tests and search); ``international`` means the calling code is not
    44 (Crown dependencies are therefore *not* international but may have a multiplier above 1).
    """

    submitted: str
    normalised: str
    international: bool
    country_prefix: str
    rate_multiplier: float
    is_uk_landline: bool


def validate_phone_number(number: str, *, international: bool = True) -> PhoneNumber:
    """Validate and normalise ``number``; raise ``InvalidPhoneError`` with Notify's message on failure.

    With ``international=False`` only +44 numbers are accepted; others fail with ``Not a UK mobile number``.
    """
    submitted = number.strip()
    fast = _fast_uk_mobile(submitted)
    return fast if fast is not None else _validate_with_libphonenumber(submitted, international)


def _validate_with_libphonenumber(submitted: str, international: bool) -> PhoneNumber:
    """The full rules of §7.1 (the fast path above must agree with this; see test_phone.py)."""
    _raise_for_bad_characters(submitted)
    # libphonenumber stops reading at a tab or other unusual whitespace, so give it plain spaces.
    text = " ".join(submitted.split())
    try:
        parsed = _parse_valid_number(text, plus_retry=not text.startswith(("+", "0")))
    except InvalidPhoneError as first:
        # Spreadsheets and copy-paste mangle numbers (`0+44…`, `+07…`, full-width digits): one retry on a
        # cleaned copy, and normally the retry's error is the one the user sees.
        try:
            # A number written nationally (`07…`) must stay British: reading the cleaned `7…` as `+7…` would
            # turn a UK typo into a valid Kazakh number.
            national = _NATIONAL_FORMAT.match(text) is not None
            parsed = _parse_valid_number(_cleaned(text), plus_retry=not national)
        except InvalidPhoneError as second:
            # Exception to that: stripping the leading 0 of a too-long/too-short UK number makes it look
            # foreign, and "not valid" would hide the real problem (the digit count).
            if first.message in _LENGTH_MESSAGES and second.message not in _LENGTH_MESSAGES:
                raise first from None
            raise
    if not is_priced(parsed.country_code):
        raise InvalidPhoneError(BAD_COUNTRY_PREFIX)
    if not international and parsed.country_code != UK_COUNTRY_CODE:
        raise InvalidPhoneError(NOT_UK_MOBILE)
    region = phonenumbers.region_code_for_number(parsed)
    return PhoneNumber(
        submitted=submitted,
        normalised=phonenumbers.format_number(parsed, PhoneNumberFormat.E164).lstrip("+"),
        international=parsed.country_code != UK_COUNTRY_CODE,
        country_prefix=str(parsed.country_code),
        rate_multiplier=rate_multiplier(parsed.country_code, region),
        is_uk_landline=parsed.country_code == UK_COUNTRY_CODE and not _is_uk_mobile(parsed),
    )


_UK_MOBILE_SHAPE = re.compile(r"(?:\+44|0044|44)?(?:\(0\)|0)?(7[0-9]{9})")  # ASCII digits only
_FORMATTING = str.maketrans("", "", " -()")


@cache
def _gb_mobile_pattern() -> re.Pattern[str]:
    """libphonenumber's own GB mobile pattern (it excludes the Crown-dependency ranges)."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(_DEFAULT_REGION)
    return re.compile(metadata.mobile.national_number_pattern)


def _fast_uk_mobile(submitted: str) -> PhoneNumber | None:
    """Shortcut for the commonest input, a mainland UK mobile in a usual form; None means "take the full path".

    Gives exactly the result of the full path (same metadata), only without libphonenumber's general parsing.
    """
    match = _UK_MOBILE_SHAPE.fullmatch(submitted.translate(_FORMATTING))
    if match is None:
        return None
    nsn = match.group(1)
    # Only Ofcom's drama block proper: other 7700 numbers may belong to a Crown dependency (own multiplier).
    if not (nsn.startswith("7700900") or _gb_mobile_pattern().fullmatch(nsn)):
        return None
    return PhoneNumber(submitted, "44" + nsn, False, "44", 1.0, False)


def check_phone_permissions(phone: PhoneNumber, *, allow_international: bool, allow_landlines: bool) -> None:
    """Apply the service permissions (behaviour.md §7.1 step 6); return None when sending is allowed."""
    if phone.international and not allow_international:
        raise InternationalNotAllowed()
    if phone.is_uk_landline and not allow_landlines:
        raise NotAUkMobile()


def normalise_phone_number(number: str) -> str:
    """Shortcut for callers that only need the canonical digits (guest lists, search)."""
    return validate_phone_number(number).normalised


def _raise_for_bad_characters(text: str) -> None:
    if not any(ch.isdecimal() for ch in text):
        raise InvalidPhoneError(
            LETTERS_OR_SYMBOLS if any(_is_bad_character(ch) for ch in text) else NOT_ENOUGH_DIGITS
        )
    if any(_is_bad_character(ch) for ch in text):
        raise InvalidPhoneError(LETTERS_OR_SYMBOLS)


def _is_bad_character(ch: str) -> bool:
    return not (ch.isdecimal() or ch.isspace() or ch in _ALLOWED_SYMBOLS)


def _cleaned(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return ascii_text.replace("+", "").strip().lstrip("0")


def _parse_valid_number(text: str, *, plus_retry: bool) -> phonenumbers.PhoneNumber:
    parsed = _parse_possible_number(text, plus_retry=plus_retry)
    if not _is_allowed_kind(parsed):
        raise InvalidPhoneError(NOT_VALID)
    return parsed


def _parse_possible_number(text: str, *, plus_retry: bool) -> phonenumbers.PhoneNumber:
    """Step 2 of §7.1: GB first, then (if ``plus_retry``) as if a leading ``+`` had been dropped."""
    gb_error: str | None = None
    try:
        parsed = phonenumbers.parse(text, _DEFAULT_REGION)
    except NumberParseException as exc:
        gb_error = _PARSE_ERROR_MESSAGES.get(exc.error_type, NOT_VALID)
    else:
        reason = _possibility(parsed)
        if reason == ValidationResult.IS_POSSIBLE:
            return parsed
        gb_error = _REASON_MESSAGES.get(reason, NOT_VALID)
    if not plus_retry:
        # Already international (`+…`, `00…`) or clearly national (`0…`): a `+` retry would only turn a
        # length problem into a misleading country-prefix one.
        raise InvalidPhoneError(gb_error)
    try:
        parsed = phonenumbers.parse("+" + text, None)
    except NumberParseException as exc:
        raise InvalidPhoneError(_PARSE_ERROR_MESSAGES.get(exc.error_type, NOT_VALID)) from None
    reason = _possibility(parsed)
    if reason != ValidationResult.IS_POSSIBLE:
        raise InvalidPhoneError(_REASON_MESSAGES.get(reason, NOT_VALID))
    return parsed


def _possibility(parsed: phonenumbers.PhoneNumber) -> int:
    if parsed.country_code == UK_COUNTRY_CODE and _nsn(parsed).startswith("7"):
        # UK 07 numbers are all 10 national digits; the country-wide check would accept 9.
        return phonenumbers.is_possible_number_for_type_with_reason(parsed, PhoneNumberType.MOBILE)
    return phonenumbers.is_possible_number_with_reason(parsed)


def _is_allowed_kind(parsed: phonenumbers.PhoneNumber) -> bool:
    if _is_drama_number(parsed):
        return True
    return phonenumbers.is_valid_number(parsed) and phonenumbers.number_type(parsed) in _ALLOWED_TYPES


def _is_uk_mobile(parsed: phonenumbers.PhoneNumber) -> bool:
    return _is_drama_number(parsed) or phonenumbers.number_type(parsed) in (
        PhoneNumberType.MOBILE,
        PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )


def _is_drama_number(parsed: phonenumbers.PhoneNumber) -> bool:
    nsn = _nsn(parsed)
    return (
        parsed.country_code == UK_COUNTRY_CODE
        and nsn.startswith(_DRAMA_PREFIX)
        and len(nsn) == _UK_MOBILE_NSN_LENGTH
    )


def _nsn(parsed: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.national_significant_number(parsed)
