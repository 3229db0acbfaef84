"""public-api.md §4.1 (message rules and every verified example), §5 bodies and §6.2 query strings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft7Validator, FormatChecker
from notify_gateway.validation import SCHEMAS, ValidationFailed, messages_for, validate, validate_query

TEMPLATE_ID = "f47ac10b-58cc-4372-a567-0e02b2c3d479"
OTHER_ID = "26785a09-ab16-4eb0-8407-a37497a57506"

STATUS_LIST = (
    "[cancelled, created, sending, sent, delivered, pending, failed, technical-failure, temporary-failure, "
    "permanent-failure, pending-virus-check, validation-failed, virus-scan-failed, returned-letter, accepted, "
    "received]"
)


def messages(schema: str, instance: object) -> list[str]:
    with pytest.raises(ValidationFailed) as info:
        validate(schema, instance)
    return info.value.messages


def query_messages(schema: str, params: list[tuple[str, str]]) -> list[str]:
    with pytest.raises(ValidationFailed) as info:
        validate_query(schema, params)
    return info.value.messages


def sms(**fields: object) -> dict:
    return {"phone_number": "07700900123", "template_id": TEMPLATE_ID, **fields}


def email(**fields: object) -> dict:
    return {"email_address": "someone@example.com", "template_id": TEMPLATE_ID, **fields}


def in_hours(hours: float) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat()


def test_own_schemas_are_valid_draft7():
    for schema in SCHEMAS.values():
        Draft7Validator.check_schema(schema)


# ------------------------------------------------------------------------------------------------
# every verified example of public-api.md §4.1


@pytest.mark.parametrize(
    ("schema", "instance", "expected"),
    [
        ("post_sms", {"template_id": TEMPLATE_ID}, "phone_number is a required property"),
        ("post_sms", {"phone_number": "07700900123"}, "template_id is a required property"),
        ("post_sms", sms(foo=1, bar=2), "Additional properties are not allowed (bar, foo were unexpected)"),
        ("post_sms", sms(foo=1), "Additional properties are not allowed (foo was unexpected)"),
        ("post_sms", sms(personalisation="x"), "personalisation x is not of type object"),
        ("post_sms", sms(reference="r" * 1001), f"reference {'r' * 1001} is too long"),
        ("post_sms", sms(phone_number=7700900123), "phone_number 7700900123 is not of type string"),
        (
            "post_email",
            email(sanitise_content_for="name"),
            "sanitise_content_for name is not of type array, null",
        ),
        ("get_notifications", {"status": ["bad"]}, f"status bad is not one of {STATUS_LIST}"),
        (
            "get_notifications",
            {"template_type": ["Apple"]},
            "template_type Apple is not one of [sms, email, letter]",
        ),
        ("get_notifications", {"include_jobs": ["1"]}, "include_jobs 1 is not one of [true, True]"),
        ("get_templates", {"type": ["fax"]}, "type fax is not one of [sms, email, letter]"),
        (
            "post_precompiled_letter",
            {"reference": "r", "content": "JVBERi0=", "postage": "third"},
            "postage invalid. It must be either first, second or economy.",
        ),
        ("post_template_preview", {"personalisation": None}, "personalisation None is not of type object"),
        ("post_template_preview", {"personalisation": ["a"]}, "personalisation [a] is not of type object"),
        # custom messages (rule 1)
        ("post_sms", sms(template_id="not-a-uuid"), "template_id is not a valid UUID"),
        ("post_sms", sms(sms_sender_id=None), "sms_sender_id is not a valid UUID"),
        (
            "post_email",
            email(one_click_unsubscribe_url="http://x.com"),
            "one_click_unsubscribe_url is not a valid https url",
        ),
    ],
)
def test_verified_examples(schema, instance, expected):
    assert messages(schema, instance) == [expected]


def test_verified_example_email_address_format_uses_the_cause_text():
    # The email check itself belongs to the content engine; the rule that turns a format check's reason into
    # "<field> <reason>" is ours. Drive it with a stand-in email check.
    checker = FormatChecker(formats=())

    @checker.checks("email_address", raises=ValueError)
    def _email(instance):
        raise ValueError("Not a valid email address")

    schema = {
        "type": "object",
        "properties": {"email_address": {"type": "string", "format": "email_address"}},
    }
    errors = Draft7Validator(schema, format_checker=checker).iter_errors({"email_address": "nope"})
    assert messages_for(errors) == ["email_address Not a valid email address"]


def test_query_examples_via_validate_query():
    assert query_messages("get_notifications", [("status", "bad")]) == [
        f"status bad is not one of {STATUS_LIST}"
    ]
    assert query_messages("get_notifications", [("template_type", "Apple")]) == [
        "template_type Apple is not one of [sms, email, letter]"
    ]
    assert query_messages("get_notifications", [("include_jobs", "1")]) == [
        "include_jobs 1 is not one of [true, True]"
    ]
    assert query_messages("get_templates", [("type", "fax")]) == [
        "type fax is not one of [sms, email, letter]"
    ]


# ------------------------------------------------------------------------------------------------
# message rules


def test_order_properties_then_required_then_additional():
    assert messages("post_sms", {"template_id": "x", "zzz": 1, "personalisation": 3}) == [
        "template_id is not a valid UUID",
        "personalisation 3 is not of type object",
        "phone_number is a required property",
        "Additional properties are not allowed (zzz was unexpected)",
    ]


def test_property_errors_follow_schema_order_not_body_order():
    body = {"sms_sender_id": "x", "template_id": "y", "phone_number": 1, "reference": 2}
    assert messages("post_sms", body) == [
        "reference 2 is not of type string",
        "phone_number 1 is not of type string",
        "template_id is not a valid UUID",
        "sms_sender_id is not a valid UUID",
    ]


def test_all_required_reported():
    assert messages("post_email", {}) == [
        "email_address is a required property",
        "template_id is a required property",
    ]


def test_duplicates_removed():
    assert messages("get_notifications", {"status": ["bad", "bad", "sent", "bad"]}) == [
        f"status bad is not one of {STATUS_LIST}"
    ]


def test_custom_message_whatever_the_failure():
    for bad in [None, 123, "", "1234", ["x"], {"a": 1}]:
        assert messages("post_sms", sms(template_id=bad)) == ["template_id is not a valid UUID"]


def test_single_quotes_removed_everywhere():
    assert messages("post_sms", sms(personalisation="it's")) == [
        'personalisation "its" is not of type object'
    ]
    assert messages("post_sms", sms(**{"it's": 1})) == [
        'Additional properties are not allowed ("its" was unexpected)'
    ]


def test_top_level_error_has_no_field_prefix():
    assert messages("post_sms", [1, 2]) == ["[1, 2] is not of type object"]
    assert messages("post_email", "text") == ["text is not of type object"]


def test_validation_failed_carries_messages():
    err = ValidationFailed(["a", "b", "a"])
    assert err.messages == ["a", "b"]
    assert str(err) == "a; b"


def test_unknown_schema():
    with pytest.raises(ValueError):
        validate("post_fax", {})
    with pytest.raises(ValueError):
        validate_query("post_sms", [])


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(sorted(SCHEMAS)),
    st.dictionaries(
        st.sampled_from(
            ["phone_number", "template_id", "reference", "personalisation", "status", "x", "type"]
        ),
        st.one_of(
            st.none(), st.booleans(), st.integers(), st.text(max_size=5), st.lists(st.text(max_size=3))
        ),
    ),
)
def test_any_input_passes_or_gives_unique_messages(schema, instance):
    try:
        validate(schema, instance)
    except ValidationFailed as exc:
        assert exc.messages
        assert len(set(exc.messages)) == len(exc.messages)
        assert all(isinstance(m, str) and m and "'" not in m for m in exc.messages)


# ------------------------------------------------------------------------------------------------
# POST sms / email


def test_minimal_and_full_sms_pass():
    validate("post_sms", sms())
    validate(
        "post_sms",
        sms(personalisation={"name": "A"}, reference="r" * 1000, sms_sender_id=OTHER_ID, scheduled_for=None),
    )


def test_uuid_forms_python_accepts():
    validate("post_sms", sms(template_id=TEMPLATE_ID.upper()))
    validate("post_sms", sms(template_id=TEMPLATE_ID.replace("-", "")))


def test_phone_and_email_formats_are_not_checked_here():
    validate("post_sms", sms(phone_number="not a number"))
    validate("post_email", email(email_address="not an address"))


def test_full_email_passes():
    validate(
        "post_email",
        email(
            personalisation={"link": {"file": "YSxi", "filename": None}, "list": ["a", "b"]},
            reference="ref",
            email_reply_to_id=OTHER_ID,
            one_click_unsubscribe_url="https://example.com/unsubscribe?id=1&x=%20",
            sanitise_content_for=["name"],
            scheduled_for=in_hours(1),
        ),
    )
    validate("post_email", email(sanitise_content_for=None))


@pytest.mark.parametrize(
    "url",
    ["http://example.com", "ftp://x", "https://exa mple.com", "https://x/%zz", 5, None, "", "HTTPS://x"],
)
def test_one_click_unsubscribe_url_rejects(url):
    assert messages("post_email", email(one_click_unsubscribe_url=url)) == [
        "one_click_unsubscribe_url is not a valid https url"
    ]


def test_email_reply_to_id_must_be_uuid():
    assert messages("post_email", email(email_reply_to_id="abc")) == ["email_reply_to_id is not a valid UUID"]


def test_sms_does_not_take_email_fields():
    assert messages("post_sms", sms(email_reply_to_id=OTHER_ID)) == [
        "Additional properties are not allowed (email_reply_to_id was unexpected)"
    ]


def test_scheduled_for_rules():
    validate("post_sms", sms(scheduled_for=in_hours(23)))
    assert messages("post_sms", sms(scheduled_for=in_hours(-1))) == [
        "scheduled_for datetime can not be in the past"
    ]
    assert messages("post_sms", sms(scheduled_for=in_hours(25))) == [
        "scheduled_for datetime can only be 24 hours in the future"
    ]
    assert messages("post_email", email(scheduled_for="tomorrow")) == [
        "scheduled_for datetime format is invalid. It must be a valid ISO8601 date time format, "
        "https://en.wikipedia.org/wiki/ISO_8601"
    ]
    assert messages("post_sms", sms(scheduled_for=5)) == ["scheduled_for 5 is not of type string, null"]


def test_reference_length_boundary():
    validate("post_email", email(reference="x" * 1000))
    assert messages("post_email", email(reference="x" * 1001)) == [f"reference {'x' * 1001} is too long"]


# ------------------------------------------------------------------------------------------------
# letters


def test_templated_letter():
    validate("post_letter", {"template_id": TEMPLATE_ID, "personalisation": {"address_line_1": "A"}})
    assert messages("post_letter", {"template_id": TEMPLATE_ID}) == ["personalisation is a required property"]
    assert messages("post_letter", {"personalisation": {}}) == ["template_id is a required property"]
    assert messages(
        "post_letter", {"template_id": TEMPLATE_ID, "personalisation": {}, "postage": "first"}
    ) == ["Additional properties are not allowed (postage was unexpected)"]
    assert messages(
        "post_letter", {"template_id": TEMPLATE_ID, "personalisation": {}, "letter_contact_id": OTHER_ID}
    ) == ["Additional properties are not allowed (letter_contact_id was unexpected)"]


@pytest.mark.parametrize("postage", ["first", "second", "economy"])
def test_precompiled_postage_accepted(postage):
    validate("post_precompiled_letter", {"reference": "r", "content": "JVBERi0=", "postage": postage})


def test_precompiled_letter():
    validate("post_precompiled_letter", {"reference": "r", "content": "JVBERi0="})
    assert messages("post_precompiled_letter", {"content": "JVBERi0="}) == [
        "reference is a required property"
    ]
    assert messages("post_precompiled_letter", {"reference": None, "content": "x"}) == [
        "reference None is not of type string"
    ]
    assert messages("post_precompiled_letter", {"reference": "r", "content": "x", "postage": "europe"}) == [
        "postage invalid. It must be either first, second or economy."
    ]
    assert messages("post_precompiled_letter", {"reference": "r", "content": "x", "postage": 5}) == [
        "postage 5 is not of type string"
    ]
    assert messages(
        "post_precompiled_letter", {"reference": "r", "content": "x", "template_id": TEMPLATE_ID}
    ) == ["Additional properties are not allowed (template_id was unexpected)"]


# ------------------------------------------------------------------------------------------------
# template preview and path ids


def test_preview():
    validate("post_template_preview", {})
    validate("post_template_preview", {"personalisation": {"a": 1}, "anything": "else"})
    validate("post_template_preview", {"id": TEMPLATE_ID, "personalisation": {}})
    assert messages("post_template_preview", {"id": "x"}) == ["id is not a valid UUID"]


def test_path_ids():
    assert messages("notification_by_id", {"notification_id": "abc"}) == [
        "notification_id is not a valid UUID"
    ]
    assert messages("get_template_by_id", {"id": "abc"}) == ["id is not a valid UUID"]
    validate("get_template_by_id", {"id": TEMPLATE_ID, "version": 2})


# ------------------------------------------------------------------------------------------------
# GET query strings (§6.2, §6.5, §6.7)


def test_get_notifications_query_coercion():
    params = [
        ("status", "delivered"),
        ("reference", "first-ref"),
        ("template_type", "sms"),
        ("status", "failed"),
        ("reference", "second-ref"),
        ("older_than", OTHER_ID),
        ("include_jobs", "True"),
        ("template_type", "email"),
    ]
    result = validate_query("get_notifications", params)
    assert result == {
        "status": ["delivered", "failed"],
        "reference": "first-ref",
        "template_type": ["sms", "email"],
        "older_than": OTHER_ID,
        "include_jobs": "True",
    }
    assert list(result) == ["status", "reference", "template_type", "older_than", "include_jobs"]


def test_get_notifications_empty_and_every_status():
    assert validate_query("get_notifications", []) == {}
    statuses = STATUS_LIST.strip("[]").split(", ")
    assert validate_query("get_notifications", [("status", s) for s in statuses])["status"] == statuses


def test_get_notifications_first_value_decides():
    assert validate_query("get_notifications", [("include_jobs", "true"), ("include_jobs", "nope")]) == {
        "include_jobs": "true"
    }
    assert query_messages("get_notifications", [("older_than", "bad"), ("older_than", OTHER_ID)]) == [
        "older_than is not a valid UUID"
    ]


def test_get_notifications_errors():
    assert query_messages("get_notifications", [("include_jobs", "false")]) == [
        "include_jobs false is not one of [true, True]"
    ]
    assert query_messages("get_notifications", [("older_than", "123")]) == ["older_than is not a valid UUID"]
    assert query_messages("get_notifications", [("foo", "1"), ("page", "2"), ("foo", "3")]) == [
        "Additional properties are not allowed (foo, page were unexpected)"
    ]
    assert query_messages(
        "get_notifications", [("status", "sent"), ("status", "nope"), ("template_type", "fax"), ("x", "1")]
    ) == [
        f"status nope is not one of {STATUS_LIST}",
        "template_type fax is not one of [sms, email, letter]",
        "Additional properties are not allowed (x was unexpected)",
    ]


def test_validate_accepts_dict_of_lists_for_queries():
    validate(
        "get_notifications",
        {"status": ["sent", "delivered"], "reference": ["a", "b"], "include_jobs": ["True"]},
    )
    validate("get_notifications", {"status": "sent", "older_than": OTHER_ID})
    assert messages("get_notifications", {"older_than": ["nope", OTHER_ID]}) == [
        "older_than is not a valid UUID"
    ]
    validate("get_templates", {"type": ["letter"]})
    validate("get_received_texts", {"older_than": [OTHER_ID]})


def test_get_templates_query():
    assert validate_query("get_templates", []) == {}
    assert validate_query("get_templates", [("type", "sms"), ("type", "fax")]) == {"type": "sms"}
    assert query_messages("get_templates", [("type", "fax")]) == [
        "type fax is not one of [sms, email, letter]"
    ]
    assert query_messages("get_templates", [("template_type", "sms")]) == [
        "Additional properties are not allowed (template_type was unexpected)"
    ]


def test_get_received_texts_query():
    assert validate_query("get_received_texts", [("older_than", OTHER_ID)]) == {"older_than": OTHER_ID}
    assert query_messages("get_received_texts", [("older_than", "x")]) == ["older_than is not a valid UUID"]
    assert query_messages("get_received_texts", [("status", "sent")]) == [
        "Additional properties are not allowed (status was unexpected)"
    ]
