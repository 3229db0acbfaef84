"""Header mapping, row preparation, the file checker and processing's walk over a checked file."""

from __future__ import annotations

import pytest
from notify_content.templates import EmailTemplate
from notify_jobs.domain.rows import (
    TRIAL_MESSAGE,
    ColumnMap,
    FileChecker,
    FileError,
    JobFileInvalid,
    PreparedRow,
    RowError,
    RowFailure,
    ServiceRules,
    TemplateInfo,
    check_file,
    iter_prepared,
    prepare_row,
    render_email_text,
)

LIVE = ServiceRules(
    allow_international_sms=True,
    allow_sms_to_uk_landlines=False,
    allow_international_letters=True,
    restricted=False,
)
STRICT = ServiceRules(
    allow_international_sms=False,
    allow_sms_to_uk_landlines=False,
    allow_international_letters=False,
    restricted=False,
)
SMS = TemplateInfo(template_type="sms", content="Hello ((name)), your code is ((code))")
EMAIL = TemplateInfo(
    template_type="email", subject="Hi ((name))", content="Dear ((name)),\n\nYour code: ((code))"
)
LETTER = TemplateInfo(
    template_type="letter", subject="About ((name))", content="Dear ((name))", letter_contact_block="Office"
)


def _row(headers: list[str], cells: list[str], template: TemplateInfo = SMS, rules: ServiceRules = LIVE):
    columns = ColumnMap.from_header(headers, template.template_type)
    return prepare_row(columns, cells, template=template, rules=rules, job_row_number=0, spreadsheet_row=2)


# --- header --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header", ["phone number", "Phone Number", "phone_number", "PHONE-NUMBER", " phonenumber "]
)
def test_the_recipient_column_matches_whatever_the_case_spaces_underscores_and_hyphens(header: str) -> None:
    columns = ColumnMap.from_header(["name", header, "code"], "sms")
    assert columns.recipient_index == 1
    assert columns.problems(["name", "code"]) == []


def test_every_named_column_is_personalisation_keyed_as_written() -> None:
    result = _row(
        ["Phone Number", "Name", "code", "", "Reference"], ["07700900123", "Jo", "1", "ignored", " ref-1 "]
    )
    assert isinstance(result, PreparedRow)
    assert result.personalisation == {
        "Phone Number": "07700900123",
        "Name": "Jo",
        "code": "1",
        "Reference": " ref-1 ",
    }
    assert result.client_reference == "ref-1"


@pytest.mark.parametrize(
    ("template_type", "header", "message"),
    [
        ("sms", ["email address", "name"], "Your file needs a column called ‘phone number’."),
        ("email", ["phone number", "name"], "Your file needs a column called ‘email address’."),
        (
            "letter",
            ["address line 2", "address line 3", "postcode", "name"],
            "Your file needs a column called ‘address line 1’ and at least 2 more address columns, for example "
            "‘address line 2’ and ‘postcode’.",
        ),
        (
            "letter",
            ["address line 1", "postcode", "name"],
            "Your file needs a column called ‘address line 1’ and at least 2 more address columns, for example "
            "‘address line 2’ and ‘postcode’.",
        ),
    ],
)
def test_a_file_without_its_recipient_columns(template_type: str, header: list[str], message: str) -> None:
    problems = ColumnMap.from_header(header, template_type).problems(["name"])
    assert [p.message for p in problems] == [message]
    assert problems[0].code in {"missing_recipient_column", "missing_address_columns"}


def test_letter_columns_may_be_any_three_including_address_line_1() -> None:
    columns = ColumnMap.from_header(["Address_Line_1", "address line 2", "POSTCODE"], "letter")
    assert columns.problems([]) == []


def test_every_missing_template_column_is_listed() -> None:
    problems = ColumnMap.from_header(["phone number"], "sms").problems(["name", "code"])
    assert problems == [
        FileError("missing_column", "Your file is missing a column called ‘name’."),
        FileError("missing_column", "Your file is missing a column called ‘code’."),
    ]


def test_duplicate_columns_after_normalisation() -> None:
    problems = ColumnMap.from_header(
        ["phone number", "Phone_Number", "name", "NAME", "name"], "sms"
    ).problems([])
    assert [p.message for p in problems] == [
        "Your file has more than one column called ‘phone number’.",
        "Your file has more than one column called ‘name’.",
    ]


# --- file checker --------------------------------------------------------------------------------------------


def test_a_good_file() -> None:
    report = check_file([["phone number", "name", "code"], ["07700900123", "Jo", "1"]], SMS, LIVE)
    assert (report.valid, report.notification_count, report.errors, report.error_count) == (True, 1, [], 0)


def test_an_empty_file_and_a_header_only_file() -> None:
    empty = check_file([], SMS, LIVE)
    assert [e.message for e in empty.errors] == ["Your file is empty."]
    header_only = check_file([["phone number", "name", "code"], ["", "", ""]], SMS, LIVE)
    assert not header_only.valid
    assert [e.message for e in header_only.errors] == ["Your file needs at least one row of data."]
    assert header_only.notification_count == 0


def test_header_problems_come_first_and_rows_are_still_counted() -> None:
    report = check_file([["phone number", "phone number"], ["07700900123", "x"], ["bad", "y"]], SMS, LIVE)
    assert report.notification_count == 2
    assert [e.message for e in report.errors] == [
        "Your file is missing a column called ‘name’.",
        "Your file is missing a column called ‘code’.",
        "Your file has more than one column called ‘phone number’.",
    ]
    assert all(isinstance(e, FileError) for e in report.errors)


def test_too_many_rows_are_counted_but_not_checked() -> None:
    rows = [["phone number", "name", "code"]] + [["not a number", "Jo", "1"]] * 5
    report = check_file(rows, SMS, LIVE, max_rows=3)
    assert report.notification_count == 5
    assert report.errors[0] == FileError(
        "too_many_rows",
        "Your file has too many rows. Notify can process up to 3 rows at once. Your file has 5 rows.",
    )
    assert [e.row for e in report.errors[1:]] == [2, 3, 4]  # rows past the limit are not checked


def test_the_default_limit_is_100000_rows() -> None:
    checker = FileChecker(SMS, LIVE)
    checker.header(["phone number", "name", "code"])
    for _ in range(100_001):
        checker._count += (
            1  # counting alone: checking 100,000 rows is the perf script's job, not a unit test's
        )
    assert checker.report().errors[-1].message == (
        "Your file has too many rows. Notify can process up to 100,000 rows at once. Your file has 100,001 rows."
    )


def test_row_problems_with_spreadsheet_row_numbers_and_columns() -> None:
    rows = [
        ["Phone number", "Name", "code"],
        ["07700900123", "Jo", "1"],  # row 2: fine
        ["", "", ""],  # row 3: empty, skipped
        ["0770090012", "Jo", "1"],  # row 4
        ["07700900123", " ", ""],  # row 5
        ["", "Al", "2"],  # row 6
        ["+33 6 12 34 56 78", "Al", "2"],  # row 7 (international not allowed)
        ["020 7946 0000", "Al", "2"],  # row 8 (landline not allowed)
        ["abc", "", "3"],  # row 9: two problems
    ]
    report = check_file(rows, SMS, STRICT)
    assert report.notification_count == 7
    assert not report.valid
    assert report.errors == [
        RowError(4, "Phone number", "Not enough digits", "invalid_recipient"),
        RowError(5, "Name", "Missing ‘Name’", "missing_value"),
        RowError(5, "code", "Missing ‘code’", "missing_value"),
        RowError(6, "Phone number", "Missing ‘Phone number’", "missing_value"),
        RowError(7, "Phone number", "Cannot send to international mobile numbers", "recipient_not_allowed"),
        RowError(8, "Phone number", "Not a UK mobile number", "recipient_not_allowed"),
        RowError(9, "Phone number", "Must not contain letters or symbols", "invalid_recipient"),
        RowError(9, "Name", "Missing ‘Name’", "missing_value"),
    ]
    assert report.error_count == 8
    assert report.rows_with_errors == 6
    assert report.errors_truncated is False


def test_reported_errors_are_capped_but_all_counted() -> None:
    rows = [["phone number", "name", "code"]] + [["bad", "", ""]] * 10
    report = check_file(rows, SMS, LIVE, max_reported_errors=4)
    assert len(report.errors) == 4
    assert report.error_count == 30
    assert report.errors_truncated is True
    assert report.as_dict()["errors"][0] == {
        "row": 2,
        "column": "phone number",
        "code": "invalid_recipient",
        "message": "Must not contain letters or symbols",
    }


def test_message_too_long() -> None:
    template = TemplateInfo(template_type="sms", content="((text))")
    report = check_file([["phone number", "text"], ["07700900123", "a" * 919]], template, LIVE)
    assert [e.message for e in report.errors] == [
        "Your message is too long. Text messages cannot be longer than 918 characters. "
        "Your message is 919 characters long."
    ]
    email = TemplateInfo(template_type="email", subject="s", content="((text))")
    report = check_file([["email address", "text"], ["a@example.com", "é" * 1_000_001]], email, LIVE)
    assert [e.message for e in report.errors] == [
        "Your message is too long. Emails cannot be longer than 2000000 bytes. Your message is 2000002 bytes."
    ]


def test_bad_email_and_bad_address_rows() -> None:
    email = check_file([["email address", "name", "code"], ["not-an-address", "Jo", "1"]], EMAIL, LIVE)
    assert email.errors == [RowError(2, "email address", "Not a valid email address", "invalid_recipient")]
    letter = check_file(
        [
            ["address line 1", "address line 2", "postcode", "name"],
            ["1 Street", "Town", "NOT A POSTCODE", "Jo"],
        ],
        LETTER,
        STRICT,
    )
    assert letter.errors == [RowError(2, None, "Must be a real UK postcode", "invalid_address")]
    abroad = check_file(
        [["address line 1", "address line 2", "address line 3", "name"], ["1 Rue", "Paris", "France", "Jo"]],
        LETTER,
        STRICT,
    )
    assert [e.message for e in abroad.errors] == ["Must be a real UK postcode"]  # international letters off


def test_trial_mode_allows_only_the_team_and_guest_list() -> None:
    rules = ServiceRules(
        allow_international_sms=False,
        allow_sms_to_uk_landlines=False,
        allow_international_letters=False,
        restricted=True,
        allowed_recipients=frozenset({"447700900123"}),
    )
    rows = [["phone number", "name", "code"], ["+44 7700 900123", "Jo", "1"], ["07700900456", "Al", "2"]]
    report = check_file(rows, SMS, rules)
    assert report.errors == [RowError(3, "phone number", TRIAL_MESSAGE, "not_allowed_in_trial_mode")]
    prepared = list(iter_prepared(rows, SMS, rules))
    assert [(p.normalised_recipient, p.allowed) for p in prepared if isinstance(p, PreparedRow)] == [
        ("447700900123", True),
        ("447700900456", False),
    ]
    # The trial refusal comes first (as in the API), and joins any other problem of the row.
    both = check_file([["phone number", "name", "code"], ["+33612345678", "", "1"]], SMS, rules)
    assert [e.message for e in both.errors] == [TRIAL_MESSAGE, "Missing ‘name’"]


def test_conditional_placeholders_need_a_value_too() -> None:
    template = TemplateInfo(template_type="sms", content="Hi((late?? – you are late))")
    report = check_file(
        [["phone number", "late"], ["07700900123", ""], ["07700900123", "no"]], template, LIVE
    )
    assert report.errors == [RowError(2, "late", "Missing ‘late’", "missing_value")]
    rows = list(iter_prepared([["phone number", "late"], ["07700900123", "yes"]], template, LIVE))
    assert rows[0].body == "Hi - you are late"  # texts send a plain hyphen


# --- prepared rows -------------------------------------------------------------------------------------------


def test_a_prepared_international_text_message() -> None:
    template = TemplateInfo(template_type="sms", content="((text))", sms_prefix="Service")
    result = _row(["phone number", "text"], [" +1 202 555 0143 ", "x" * 160], template)
    assert isinstance(result, PreparedRow)
    assert result.recipient == "+1 202 555 0143"
    assert result.normalised_recipient == "12025550143"
    assert (result.international, result.phone_prefix, result.rate_multiplier) == (True, "1", 1.0)
    assert result.body == "x" * 160
    assert result.billable_units == 2  # "Service: " + 160 characters is 169: two fragments
    assert result.subject is None and result.address_lines is None and result.postage is None
    assert (result.smoke_test, result.allowed) == (False, True)


def test_a_smoke_test_number() -> None:
    result = _row(["phone number", "name", "code"], ["07700 900000", "Jo", "1"])
    assert isinstance(result, PreparedRow)
    assert (result.smoke_test, result.international, result.billable_units) == (True, False, 1)
    assert result.body == "Hello Jo, your code is 1"


def test_a_prepared_email() -> None:
    result = _row(["Email Address", "name", "code"], ["  Jo@Example.COM ", "Jo", "42"], EMAIL)
    assert isinstance(result, PreparedRow)
    assert (result.recipient, result.normalised_recipient) == ("Jo@Example.COM", "jo@example.com")
    assert result.subject == "Hi Jo"
    assert result.body == "Dear Jo,\n\nYour code: 42"
    assert (result.billable_units, result.international, result.phone_prefix) == (0, False, None)


@pytest.mark.parametrize(
    ("subject", "content", "values"),
    [
        (
            "Hi ((name))",
            "Dear ((name)),\n\n* one\n* two\n\n((extra??Extra text))",
            {"name": "Jo", "extra": "yes"},
        ),
        (
            "“Quotes” -- ((name))",
            "# Heading\n\n^ inset ((name))\n\n---\n\n[link](https://x.gov.uk)",
            {"name": "A"},
        ),
    ],
)
def test_email_text_is_what_a_full_render_gives(subject: str, content: str, values: dict[str, str]) -> None:
    template = EmailTemplate(subject, content)
    full = template.render(values, check_length=False)
    text = render_email_text(template, values)
    assert (text.subject, text.body) == (full.subject, full.body)


def test_a_prepared_uk_letter() -> None:
    result = _row(
        ["address line 1", "address line 2", "address line 3", "address line 7", "postcode", "name"],
        ["The Occupier", "1 High  Street ,", "Town", "", "sw1a 1aa", "Jo"],
        _letter(postage="first"),
        STRICT,
    )
    assert isinstance(result, PreparedRow)
    assert result.address_lines == ["The Occupier", "1 High Street", "Town", "SW1A 1AA"]
    assert result.recipient == "The Occupier\n1 High Street\nTown\nSW1A 1AA"
    assert result.normalised_recipient == "The Occupier, 1 High Street, Town, SW1A 1AA"
    assert (result.postage, result.subject, result.body) == ("first", "About Jo", "Dear Jo")
    assert result.billable_units == 0


def test_a_prepared_international_letter() -> None:
    result = _row(
        ["address line 1", "address line 2", "address line 3", "name"],
        ["1 Rue de la Paix", "Paris", "france", "Jo"],
        LETTER,
        LIVE,
    )
    assert isinstance(result, PreparedRow)
    assert result.address_lines == ["1 Rue de la Paix", "Paris", "France"]
    assert result.postage == "europe"
    uk = _row(
        ["address line 1", "address line 2", "postcode", "name"], ["1 St", "Town", "SW1A 1AA", "J"], LETTER
    )
    assert isinstance(uk, PreparedRow) and uk.postage == "second"


def _letter(*, postage: str | None) -> TemplateInfo:
    return TemplateInfo(
        template_type="letter",
        subject=LETTER.subject,
        content=LETTER.content,
        letter_contact_block=LETTER.letter_contact_block,
        postage=postage,
    )


# --- processing ----------------------------------------------------------------------------------------------

ROWS = [
    ["phone number", "name", "code"],  # row 1
    ["07700900001", "A", "1"],  # row 2 -> job row 0
    ["", "", ""],  # row 3: skipped
    ["07700900002", "B", "2"],  # row 4 -> job row 1
    ["", " ", ""],  # row 5: skipped
    ["", "", ""],  # row 6: skipped
    ["07700900003", "C", "3"],  # row 7 -> job row 2
]


def test_processing_numbers_rows_as_the_checker_counts_them() -> None:
    report = check_file(ROWS, SMS, LIVE)
    prepared = list(iter_prepared(ROWS, SMS, LIVE))
    assert report.notification_count == len(prepared) == 3
    assert [(p.job_row_number, p.spreadsheet_row, p.personalisation["name"]) for p in prepared] == [
        (0, 2, "A"),
        (1, 4, "B"),
        (2, 7, "C"),
    ]
    resumed = list(iter_prepared(ROWS, SMS, LIVE, start_row=2))
    assert [(p.job_row_number, p.spreadsheet_row) for p in resumed] == [(2, 7)]


def test_processing_yields_rows_that_no_longer_pass_as_failures() -> None:
    rows = [*ROWS, ["+33612345678", "D", "4"]]
    results = list(iter_prepared(rows, SMS, STRICT))
    assert results[-1] == RowFailure(
        3,
        8,
        (
            RowError(
                8, "phone number", "Cannot send to international mobile numbers", "recipient_not_allowed"
            ),
        ),
    )
    assert all(isinstance(r, PreparedRow) for r in results[:-1])


def test_processing_refuses_a_file_whose_header_has_problems() -> None:
    with pytest.raises(JobFileInvalid) as caught:
        list(iter_prepared([["email address", "name", "code"], ["a@b.com", "A", "1"]], SMS, LIVE))
    assert [p.code for p in caught.value.problems] == ["missing_recipient_column"]
    with pytest.raises(JobFileInvalid):
        list(iter_prepared([], SMS, LIVE))


@pytest.mark.parametrize("kind", ["sms", "email"])
def test_a_contact_list_is_checked_for_its_recipients_only(kind: str) -> None:
    column, good, bad = (
        ("phone number", "07700 900123", "12345")
        if kind == "sms"
        else ("email address", "jo@example.gov.uk", "not an address")
    )
    contacts = TemplateInfo(template_type=kind, content="", recipients_only=True)
    report = check_file([[column, "name"], [good, "Jo"], [good, ""], [bad, "Bo"]], contacts, LIVE)
    assert report.notification_count == 3 and not report.valid
    assert [(e.row, e.column) for e in report.errors] == [(4, column)]
    empty = TemplateInfo(template_type=kind, content="")  # a real template may not be empty
    assert {e.code for e in check_file([[column], [good]], empty, LIVE).errors} == {"message_empty"}
