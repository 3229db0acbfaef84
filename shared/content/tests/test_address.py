import pytest
from notify_content.recipients import (
    InvalidAddressError,
    format_postcode,
    is_real_uk_postcode,
    validate_address,
    validate_address_lines,
)

FEW = "Address must be at least 3 lines"
MANY = "Address must be no more than 7 lines"
ALNUM = "The first 2 lines of the address must both include at least one alphanumeric character"
BFPO_COUNTRY = "The last line of a BFPO address must not be a country."
LAST_INTL = "Last line of address must be a real UK postcode or another country"
LAST_UK = "Must be a real UK postcode"
FIRST_CHAR = "Address lines must not start with any of the following characters: @ ( ) = [ ] ” \\ / , < >"
NFA = "Must be a real address"


def personalisation(*lines, **extra):
    values = {f"address_line_{i}": line for i, line in enumerate(lines, start=1)}
    values.update(extra)
    return values


VALID = [
    # (lines, expected lines, postcode, zone, country)
    (["A Person", "1 Street", "SW1A 1AA"], ["A Person", "1 Street", "SW1A 1AA"], "SW1A 1AA", "uk", None),
    (["A Person", "1 Street", "sw1a1aa"], ["A Person", "1 Street", "SW1A 1AA"], "SW1A 1AA", "uk", None),
    (
        ["A Person", "1 Street", " s w 1 a 1 a a "],
        ["A Person", "1 Street", "SW1A 1AA"],
        "SW1A 1AA",
        "uk",
        None,
    ),
    (["A Person", "1 Street", "E1 6AN"], ["A Person", "1 Street", "E1 6AN"], "E1 6AN", "uk", None),
    (["A Person", "1 Street", "m11ae"], ["A Person", "1 Street", "M1 1AE"], "M1 1AE", "uk", None),
    (["A Person", "1 Street", "B33 8TH"], ["A Person", "1 Street", "B33 8TH"], "B33 8TH", "uk", None),
    (["A Person", "1 Street", "CR2 6XH"], ["A Person", "1 Street", "CR2 6XH"], "CR2 6XH", "uk", None),
    (["A Person", "1 Street", "DN55 1PT"], ["A Person", "1 Street", "DN55 1PT"], "DN55 1PT", "uk", None),
    (["A Person", "1 Street", "EC1A 1BB"], ["A Person", "1 Street", "EC1A 1BB"], "EC1A 1BB", "uk", None),
    (["A Person", "1 Street", "GIR 0AA"], ["A Person", "1 Street", "GIR 0AA"], "GIR 0AA", "uk", None),
    (["A Person", "1 Street", "BT1 1AA"], ["A Person", "1 Street", "BT1 1AA"], "BT1 1AA", "uk", None),
    (["A Person", "1 Rue", "JE2 3AB"], ["A Person", "1 Rue", "JE2 3AB"], "JE2 3AB", "uk", None),
    (
        ["A Person", "1 Road", "IM1 1AA", "Isle of Man"],
        ["A Person", "1 Road", "IM1 1AA"],
        "IM1 1AA",
        "uk",
        None,
    ),
    (
        ["A Person", "1 Street", "London", "SW1A 1AA", "United Kingdom"],
        ["A Person", "1 Street", "London", "SW1A 1AA"],
        "SW1A 1AA",
        "uk",
        None,
    ),
    (
        ["A Person", "1 Street", "Cardiff", "CF10 1AA", "Wales", "UK"],
        ["A Person", "1 Street", "Cardiff", "CF10 1AA"],
        "CF10 1AA",
        "uk",
        None,
    ),
    (
        ["A Person", "1 Street", "Belfast", "BT1 1AA", "Northern Ireland"],
        ["A Person", "1 Street", "Belfast", "BT1 1AA"],
        "BT1 1AA",
        "uk",
        None,
    ),
    (
        ["  A   Person ,", "1 Street , ", "London .", "SW1A 1AA,"],
        ["A Person", "1 Street", "London.", "SW1A 1AA"],
        "SW1A 1AA",
        "uk",
        None,
    ),
    (
        ["A Person", "", "1 Street", "", "SW1A 1AA"],
        ["A Person", "1 Street", "SW1A 1AA"],
        "SW1A 1AA",
        "uk",
        None,
    ),
    (
        ["A Person", "1 Rue de Rivoli", "Paris", "France"],
        ["A Person", "1 Rue de Rivoli", "Paris", "France"],
        None,
        "europe",
        "France",
    ),
    (
        ["A Person", "1 Rue", "Paris", "FRANCE"],
        ["A Person", "1 Rue", "Paris", "France"],
        None,
        "europe",
        "France",
    ),
    (
        ["A Person", "1 Straße", "Berlin", "Deutschland"],
        ["A Person", "1 Straße", "Berlin", "Germany"],
        None,
        "europe",
        "Germany",
    ),
    (
        ["A Person", "1 Strasse", "Berlin", "Yr Almaen"],
        ["A Person", "1 Strasse", "Berlin", "Germany"],
        None,
        "europe",
        "Germany",
    ),
    (
        ["A Person", "1 Street", "Dublin", "Eire"],
        ["A Person", "1 Street", "Dublin", "Ireland"],
        None,
        "europe",
        "Ireland",
    ),
    (
        ["A Person", "1 Street", "Washington", "USA"],
        ["A Person", "1 Street", "Washington", "United States"],
        None,
        "rest-of-world",
        "United States",
    ),
    (
        ["A Person", "1 Street", "Washington", "united states of america"],
        ["A Person", "1 Street", "Washington", "United States"],
        None,
        "rest-of-world",
        "United States",
    ),
    (
        ["A Person", "1 Street", "Sydney", "Australia"],
        ["A Person", "1 Street", "Sydney", "Australia"],
        None,
        "rest-of-world",
        "Australia",
    ),
    (
        ["A Person", "1 Street", "Abidjan", "Cote d'Ivoire"],
        ["A Person", "1 Street", "Abidjan", "Ivory Coast"],
        None,
        "rest-of-world",
        "Ivory Coast",
    ),
    (
        ["A Person", "1 Street", "Banjul", "Gambia"],
        ["A Person", "1 Street", "Banjul", "The Gambia"],
        None,
        "rest-of-world",
        "The Gambia",
    ),
    (
        ["A Person", "1 Street", "Istanbul", "Türkiye"],
        ["A Person", "1 Street", "Istanbul", "Turkey"],
        None,
        "europe",
        "Turkey",
    ),
    (
        ["A Person", "1 Street", "Amsterdam", "the netherlands"],
        ["A Person", "1 Street", "Amsterdam", "Netherlands"],
        None,
        "europe",
        "Netherlands",
    ),
    (
        ["A Person", "1 Street", "Tokyo", "Japan"],
        ["A Person", "1 Street", "Tokyo", "Japan"],
        None,
        "rest-of-world",
        "Japan",
    ),
    (
        ["A Person", "Gibraltar Barracks", "Main St", "Gibraltar"],
        ["A Person", "Gibraltar Barracks", "Main St", "Gibraltar"],
        None,
        "europe",
        "Gibraltar",
    ),
    (
        ["A B", "C D", "E F", "G H", "I J", "K L", "SW1A 1AA"],
        ["A B", "C D", "E F", "G H", "I J", "K L", "SW1A 1AA"],
        "SW1A 1AA",
        "uk",
        None,
    ),
]

INVALID = [
    (["A Person", "1 Street"], FEW),
    (["A Person"], FEW),
    ([], FEW),
    (["", "", "", "", "", "", ""], FEW),
    (["A Person", "SW1A 1AA", "United Kingdom"], FEW),
    (["A Person", "1 Street", "  ", "  "], FEW),
    (["...", "1 Street", "SW1A 1AA"], ALNUM),
    (["A Person", "---", "SW1A 1AA"], ALNUM),
    (["Ãñ", "1 Street", "SW1A 1AA"], ALNUM),
    (["A Person", "BFPO 123", "Unit 1", "France"], BFPO_COUNTRY),
    (["A Person", "Unit 1", "c/o BFPO 45", "Germany"], BFPO_COUNTRY),
    (["A Person", "1 Street", "London"], LAST_INTL),
    (["A Person", "1 Street", "SW1A 1A"], LAST_INTL),
    (["A Person", "1 Street", "SW1A 1AAA"], LAST_INTL),
    (["A Person", "1 Street", "ZZ1 1AA"], LAST_INTL),  # not a postcode area
    (["A Person", "1 Street", "SW1A 1CA"], LAST_INTL),  # C never in the inward letters
    (["A Person", "1 Street", "SW1A 1AV"], LAST_INTL),
    (["A Person", "1 Street", "1AA SW1A"], LAST_INTL),
    (["A Person", "1 Street", "Narnia"], LAST_INTL),
    (["A Person", "1 Street", "12345"], LAST_INTL),
    (["A Person", "1 Street", "GIR 0AB"], LAST_INTL),
    (["@Person", "1 Street", "SW1A 1AA"], FIRST_CHAR),
    (["A Person", "(1 Street)", "SW1A 1AA"], FIRST_CHAR),
    (["A Person", "1 Street", "=cmd", "SW1A 1AA"], FIRST_CHAR),
    (["A Person", "1 Street", "[x]", "SW1A 1AA"], FIRST_CHAR),
    (["A Person", "1 Street", '"quoted"', "SW1A 1AA"], FIRST_CHAR),
    (["A Person", "1 Street", "\\slash", "SW1A 1AA"], FIRST_CHAR),
    (["A Person", "1 Street", "/slash", "SW1A 1AA"], FIRST_CHAR),
    (["A Person", "1 Street", "<tag>", "SW1A 1AA"], FIRST_CHAR),
    (["A Person", "1 Street", "~tilde", "SW1A 1AA"], FIRST_CHAR),
    (["NFA", "1 Street", "SW1A 1AA"], NFA),
    (["A Person", "nfa", "SW1A 1AA"], NFA),
    (["A Person", "No Fixed Abode", "SW1A 1AA"], NFA),
    (["A Person", "1 Street", "of no fixed address", "SW1A 1AA"], NFA),
    # order: line count before everything else
    (["@", "1 Street"], FEW),
    # order: alphanumeric check before the postcode check
    (["...", "1 Street", "Narnia"], ALNUM),
    # order: postcode before forbidden characters
    (["A Person", "<b>", "Narnia"], LAST_INTL),
    # order: forbidden characters before NFA
    (["NFA", "<b>", "SW1A 1AA"], FIRST_CHAR),
]


@pytest.mark.parametrize(("lines", "expected", "postcode", "zone", "country"), VALID)
def test_valid_addresses(lines, expected, postcode, zone, country):
    address = validate_address(personalisation(*lines), allow_international_letters=True)
    assert list(address.lines) == expected
    assert address.postcode == postcode
    assert address.postage_zone == zone
    assert address.country == country
    assert address.international is (country is not None)


@pytest.mark.parametrize(("lines", "message"), INVALID)
def test_invalid_addresses(lines, message):
    with pytest.raises(InvalidAddressError) as error:
        validate_address(personalisation(*lines), allow_international_letters=True)
    assert error.value.message == message


def test_more_than_seven_lines_only_possible_from_raw_lines():
    with pytest.raises(InvalidAddressError) as error:
        validate_address_lines(
            ["a", "b", "c", "d", "e", "f", "g", "SW1A 1AA"], allow_international_letters=True
        )
    assert error.value.message == MANY


def test_international_refused_without_permission():
    with pytest.raises(InvalidAddressError) as error:
        validate_address(personalisation("A", "1 Rue", "Paris", "France"), allow_international_letters=False)
    assert error.value.message == LAST_UK
    with pytest.raises(InvalidAddressError) as error:
        validate_address(personalisation("A", "1 Street", "London"), allow_international_letters=False)
    assert error.value.message == LAST_UK


def test_postcode_key_stands_in_for_line_7():
    address = validate_address(
        {"address_line_1": "A Person", "address_line_2": "1 Street", "postcode": "sw1a 1aa"},
        allow_international_letters=True,
    )
    assert address.lines == ("A Person", "1 Street", "SW1A 1AA")


def test_line_7_wins_over_postcode_key():
    address = validate_address(
        personalisation("A Person", "1 Street", "", "", "", "", "E1 6AN", postcode="SW1A 1AA"),
        allow_international_letters=True,
    )
    assert address.postcode == "E1 6AN"


def test_keys_matched_insensitively_and_values_stringified():
    address = validate_address(
        {"Address Line 1": "A Person", "ADDRESS-LINE-2": 10, "address line 3": "SW1A1AA", "other": None},
        allow_international_letters=True,
    )
    assert address.lines == ("A Person", "10", "SW1A 1AA")


def test_bfpo_line_moved_to_the_end():
    address = validate_address(
        personalisation("Pte A Smith", "BFPO 123", "Unit 5", "bf1 4aa"), allow_international_letters=True
    )
    assert address.lines == ("Pte A Smith", "Unit 5", "BF1 4AA", "BFPO 123")
    assert address.bfpo_number == "123"
    assert address.postage_zone == "uk"
    assert not address.international


def test_bfpo_without_postcode_is_accepted():
    address = validate_address(
        personalisation("Pte A Smith", "c/o BFPO 45", "Unit 5", "Camp X"), allow_international_letters=False
    )
    assert address.lines[-1] == "BFPO 45"
    assert address.postcode is None


@pytest.mark.parametrize(
    ("text", "valid", "formatted"),
    [
        ("sw1a1aa", True, "SW1A 1AA"),
        ("W1A 0AX", True, "W1A 0AX"),
        ("n1 9gu", True, "N1 9GU"),
        ("BX1 1LT", True, "BX1 1LT"),
        ("QQ1 1AA", False, None),
        ("SW1A", False, None),
        ("", False, None),
    ],
)
def test_postcodes(text, valid, formatted):
    assert is_real_uk_postcode(text) is valid
    if valid:
        assert format_postcode(text) == formatted


def test_enough_cases():
    assert len(VALID) + len(INVALID) >= 50


def test_lines_inside_one_value_count_as_lines() -> None:
    from notify_content.recipients import InvalidAddressError, validate_address

    eight = {
        "address_line_1": "A\nB\nC",
        "address_line_2": "D",
        "address_line_3": "E",
        "address_line_4": "F\nG",
        "postcode": "SW1A 1AA",
    }
    with pytest.raises(InvalidAddressError, match="Address must be no more than 7 lines"):
        validate_address(eight, allow_international_letters=True)
    three = validate_address(
        {"address_line_1": "A Person\n1 High Street", "address_line_2": "SW1A 1AA"},
        allow_international_letters=True,
    )
    assert three.lines == ("A Person", "1 High Street", "SW1A 1AA")
