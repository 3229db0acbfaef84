import pytest
from notify_content.recipients import InvalidEmailError, validate_email_address

VALID = [
    "email@domain.com",
    "email@domain.COM",
    "firstname.lastname@domain.com",
    "firstname.o'lastname@domain.com",
    "email@subdomain.domain.com",
    "firstname+lastname@domain.com",
    "1234567890@domain.com",
    "email@domain-one.com",
    "_______@domain.com",
    "email@domain.name",
    "email@domain.superlongtld",
    "email@domain.co.jp",
    "firstname-lastname@domain.com",
    "info@german-financial-services.vermögensberatung",
    "info@german-financial-services.reallylongarbitrarytldthatiswaytoohugejustincase",
    "japanese-info@例え.テスト",
    "email@double--hyphen.com",
    "a!#$%&'*+/=?^_`{|}~-b@example.com",
    "x@x.xx",
    "email@123.456.co",
    "email@xn--bcher-kva.example",
    "email@domain.xn--p1ai",
    "Email@Domain.Com",
    "  email@domain.com  ",
    "email@domain.com\u200b",
    "\ufeffemail@domain.com",
    "email@domain.com\u00a0",
    ".leadingdot@domain.com",
    "a" * 64 + "@" + "b" * 63 + ".com",
]

INVALID = [
    "",
    " ",
    "email@123.123.123.123",
    "email@[123.123.123.123]",
    "plainaddress",
    "@no-local-part.com",
    "Outlook Contact <outlook-contact@domain.com>",
    "no-at.domain.com",
    "no-tld@domain",
    ";beginning-semicolon@domain.co.uk",
    "middle-semicolon@domain.co;uk",
    "trailing-semicolon@domain.com;",
    '"email+leading-quotes@domain.com',
    'email+middle"-quotes@domain.com',
    '"quoted-local-part"@domain.com',
    '"quoted@domain.com"',
    "lots-of-dots@domain..gov..uk",
    "two-dots..in-local@domain.com",
    "multiple@domains@domain.com",
    "spaces in local@domain.com",
    "spaces-in-domain@dom ain.com",
    "underscores-in-domain@dom_ain.com",
    "pipe-in-domain@example.com|gov.uk",
    "comma,in-local@gov.uk",
    "comma-in-domain@domain,gov.uk",
    "pound-sign-in-local£@domain.com",
    "local-with-’-apostrophe@domain.com",
    "local-with-”-quotes@domain.com",
    "domain-starts-with-a-dot@.domain.com",
    "brackets(in)local@domain.com",
    "email-too-long-" + "a" * 320 + "@example.com",
    "incorrect-punycode@xn---something.com",
    "hyphen-start@-domain.com",
    "hyphen-end@domain-.com",
    "numeric-tld@domain.123",
    "one-letter-tld@domain.c",
    "trailing-dot@domain.com.",
    "label-too-long@" + "a" * 64 + ".com",
    "domain-too-long@" + ".".join(["a" * 60] * 5) + ".com",
    "ünicode-local@domain.com",
    "tab\tin@domain.com",
    "newline\n@domain.com",
]


@pytest.mark.parametrize("address", VALID)
def test_valid_addresses(address):
    result = validate_email_address(address)
    assert "@" in result.submitted
    assert result.normalised == result.submitted.lower()
    assert result.submitted == result.submitted.strip()
    assert "\u200b" not in result.submitted


@pytest.mark.parametrize("address", INVALID)
def test_invalid_addresses(address):
    with pytest.raises(InvalidEmailError) as error:
        validate_email_address(address)
    assert error.value.message == "Not a valid email address"


def test_submitted_text_is_kept_and_normalised_is_lower_case():
    result = validate_email_address("  Some.One@Example.GOV.uk ")
    assert result.submitted == "Some.One@Example.GOV.uk"
    assert result.normalised == "some.one@example.gov.uk"


def test_enough_cases():
    assert len(VALID) + len(INVALID) >= 50
