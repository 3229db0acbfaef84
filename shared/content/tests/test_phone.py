import pytest
from notify_content.errors import ContentError
from notify_content.recipients import (
    InternationalNotAllowed,
    InvalidPhoneError,
    NotAUkMobile,
    check_phone_permissions,
    validate_phone_number,
)

TOO_MANY = "Too many digits"
TOO_FEW = "Not enough digits"
SYMBOLS = "Must not contain letters or symbols"
PREFIX = "Not a valid country prefix"
NOT_VALID = "Number is not valid – double check the phone number you entered"

VALID_UK_MOBILES = [
    "07700900123",
    "07700 900123",
    "07700 900 123",
    "07700-900-123",
    "(07700) 900123",
    "(07700)900-123",
    "+447700900123",
    "+44 7700 900123",
    "+44 (0)7700 900123",
    "+44(0)7700900123",
    "447700900123",
    "44 7700 900 123",
    "00447700900123",
    "0044 7700 900123",
    "7700900123",
    "  07700900123  ",
    "07700\u00a0900123",
    "07700\t900123",
    "0+447700900123",
    "000007700900123",
    "+07700900123",
    "0+44(0)7700900123",
    "\uff10\uff17\uff17\uff10\uff10\uff19\uff10\uff10\uff11\uff12\uff13",  # full-width digits
]


@pytest.mark.parametrize("number", VALID_UK_MOBILES)
def test_uk_mobile_forms_normalise_to_one_canonical_form(number):
    phone = validate_phone_number(number)
    assert phone.normalised == "447700900123"
    assert phone.international is False
    assert phone.country_prefix == "44"
    assert phone.rate_multiplier == 1.0
    assert phone.is_uk_landline is False
    assert phone.submitted == number.strip()


@pytest.mark.parametrize(
    ("number", "normalised"),
    [
        ("07911 123456", "447911123456"),
        ("07400 123456", "447400123456"),
        ("07507 123456", "447507123456"),
        ("+44 7979 123456", "447979123456"),
    ],
)
def test_other_uk_mobiles(number, normalised):
    phone = validate_phone_number(number)
    assert phone.normalised == normalised
    assert not phone.is_uk_landline


@pytest.mark.parametrize(
    ("number", "normalised"),
    [
        ("020 7946 0000", "442079460000"),
        ("0161 496 0000", "441614960000"),
        ("+44 20 7946 0000", "442079460000"),
        ("0300 123 4567", "443001234567"),  # UAN
        ("0131 496 0000", "441314960000"),
    ],
)
def test_uk_landlines_are_valid_but_flagged(number, normalised):
    phone = validate_phone_number(number)
    assert phone.normalised == normalised
    assert phone.is_uk_landline is True
    assert phone.international is False


@pytest.mark.parametrize(
    ("number", "normalised", "prefix"),
    [
        ("+1 202 555 0123", "12025550123", "1"),
        ("12025550123", "12025550123", "1"),  # spreadsheet dropped the +
        ("001 202 555 0123", "12025550123", "1"),
        ("+33 6 12 34 56 78", "33612345678", "33"),
        ("0033612345678", "33612345678", "33"),
        ("+49 1512 3456789", "4915123456789", "49"),
        ("+61 412 345 678", "61412345678", "61"),
        ("61412345678", "61412345678", "61"),
        ("+353 85 123 4567", "353851234567", "353"),
        ("+91 98765 43210", "919876543210", "91"),
        ("+86 131 2345 6789", "8613123456789", "86"),
        ("+234 802 123 4567", "2348021234567", "234"),
        ("+7 912 345 67 89", "79123456789", "7"),
    ],
)
def test_international_numbers(number, normalised, prefix):
    phone = validate_phone_number(number)
    assert phone.normalised == normalised
    assert phone.international is True
    assert phone.country_prefix == prefix
    assert phone.rate_multiplier >= 1
    assert phone.is_uk_landline is False


@pytest.mark.parametrize("number", ["07781 123456", "07624 123456", "07797 123456"])
def test_crown_dependencies_are_not_international_but_have_a_multiplier(number):
    phone = validate_phone_number(number)
    assert phone.international is False
    assert phone.country_prefix == "44"
    assert phone.rate_multiplier > 1
    assert phone.is_uk_landline is False


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("", TOO_FEW),
        ("   ", TOO_FEW),
        ("+", TOO_FEW),
        ("()", TOO_FEW),
        ("1234", TOO_FEW),
        ("0712345678", TOO_FEW),
        ("0770090012", TOO_FEW),
        ("+44 (0)7123 456 78", TOO_FEW),
        ("004471234567", TOO_FEW),
        ("071234567890", TOO_MANY),
        ("07700 9001234", TOO_MANY),
        ("0044712345678910", TOO_MANY),
        ("+44 (0)7123 456 789 10", TOO_MANY),
        ("+447700900123456", TOO_MANY),
        ("07700a900123", SYMBOLS),
        ("07700.900.123", SYMBOLS),
        ("07700/900123", SYMBOLS),
        ("phone", SYMBOLS),
        ("07700900123#", SYMBOLS),
        ("07700–900123", SYMBOLS),  # en dash is not a hyphen
        ("+9999 1234 5678", PREFIX),
        ("99912345678", PREFIX),
        ("+800 1234 5678", NOT_VALID),  # international freephone
        ("0800 123 456", NOT_VALID),  # UK freephone
        ("09012345678", NOT_VALID),  # premium rate
        ("01632 960001", NOT_VALID),  # Ofcom drama range for landlines is not accepted
        ("+1 555 555 5555", NOT_VALID),
    ],
)
def test_invalid_numbers(number, message):
    with pytest.raises(InvalidPhoneError) as error:
        validate_phone_number(number)
    assert error.value.message == message
    assert isinstance(error.value, ContentError)


def test_uk_only_validation_refuses_international_numbers():
    with pytest.raises(InvalidPhoneError) as error:
        validate_phone_number("+33612345678", international=False)
    assert error.value.message == "Not a UK mobile number"
    assert validate_phone_number("07700900123", international=False).normalised == "447700900123"


def test_phone_number_is_frozen():
    phone = validate_phone_number("07700900123")
    with pytest.raises(AttributeError):
        phone.normalised = "x"  # type: ignore[misc]


class TestPermissions:
    def test_international_needs_permission(self):
        phone = validate_phone_number("+33612345678")
        with pytest.raises(InternationalNotAllowed) as error:
            check_phone_permissions(phone, allow_international=False, allow_landlines=True)
        assert error.value.message == "Cannot send to international mobile numbers"
        check_phone_permissions(phone, allow_international=True, allow_landlines=False)

    def test_landline_needs_permission(self):
        phone = validate_phone_number("020 7946 0000")
        with pytest.raises(NotAUkMobile) as error:
            check_phone_permissions(phone, allow_international=True, allow_landlines=False)
        assert error.value.message == "Not a UK mobile number"
        assert isinstance(error.value, InvalidPhoneError)
        check_phone_permissions(phone, allow_international=False, allow_landlines=True)

    def test_crown_dependency_needs_no_international_permission(self):
        phone = validate_phone_number("07781123456")
        check_phone_permissions(phone, allow_international=False, allow_landlines=False)

    def test_uk_mobile_always_allowed(self):
        check_phone_permissions(
            validate_phone_number("07700900123"), allow_international=False, allow_landlines=False
        )


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from notify_content.recipients.phone import _fast_uk_mobile, _validate_with_libphonenumber  # noqa: E402

uk_mobile_like = st.builds(
    lambda prefix, start, digits, separator: (
        prefix + separator.join([(start + digits)[:4], (start + digits)[4:]])
    ),
    st.sampled_from(["07", "7", "+447", "447", "00447", "+44(0)7", "(07", "0"]),
    st.sampled_from(["", "00", "700", "7009", "781", "624"]),  # drama block, Crown-dependency ranges
    st.text(alphabet="0123456789", min_size=5, max_size=10),
    st.sampled_from(["", " ", "-", ") ", "  "]),
)


@settings(max_examples=400, deadline=None, database=None)
@given(uk_mobile_like)
def test_fast_path_agrees_with_libphonenumber(number):
    fast = _fast_uk_mobile(number)
    if fast is None:
        return
    assert fast == _validate_with_libphonenumber(number, True)
