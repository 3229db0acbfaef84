import pytest
from notify_content import (
    ContentError,
    EmailTemplate,
    LetterTemplate,
    MessageEmpty,
    MessageTooLong,
    MissingPersonalisation,
    QrCodeTooLong,
    SmsTemplate,
)
from notify_content.placeholders import find_placeholders, placeholder_names


class TestPlaceholders:
    def test_names_in_order_deduplicated_by_key(self):
        assert placeholder_names("((b)) ((A)) ((first name)) ((First_Name)) ((a))") == [
            "b",
            "A",
            "first name",
        ]

    def test_conditional_name_and_text(self):
        (p,) = find_placeholders("((show me??some (text) here))".replace("(text)", "text"))
        assert (p.name, p.text, p.is_conditional) == ("show me", "some text here", True)

    def test_empty_name_is_not_a_placeholder(self):
        assert find_placeholders("(( )) ((-))") == ()

    def test_nested_brackets_take_innermost(self):
        assert placeholder_names("(((name)))") == ["name"]


@pytest.mark.parametrize(
    ("key",),
    [
        ("first_name",),
        ("FIRST NAME",),
        ("first-name",),
        ("FirstName",),
        (" first\tname ",),
        ("First_-_Name",),
    ],
)
def test_keys_match_ignoring_case_space_underscore_hyphen(key):
    assert SmsTemplate("Hi ((First Name))").render({key: "Jo"}).body == "Hi Jo"


def test_extra_personalisation_is_ignored():
    assert SmsTemplate("Hi ((name))").render({"name": "Jo", "other": "x"}).body == "Hi Jo"


def test_all_missing_reported_at_once_in_template_order():
    template = EmailTemplate("((subject thing))", "((b)) ((a)) ((b))")
    with pytest.raises(MissingPersonalisation) as error:
        template.render({"a": "x"})
    assert error.value.message == "Missing personalisation: subject thing, b"
    assert error.value.names == ["subject thing", "b"]
    assert isinstance(error.value, ContentError)


def test_none_is_missing_but_empty_string_is_a_value():
    with pytest.raises(MissingPersonalisation):
        SmsTemplate("a ((x)) b").render({"x": None})
    assert SmsTemplate("a ((x)) b").render({"x": ""}).body == "a b"


def test_scalars_become_text():
    assert SmsTemplate("((a)) ((b)) ((c))").render({"a": 1, "b": 2.5, "c": True}).body == "1 2.5 True"


@pytest.mark.parametrize("value", ["yes", "Y", "TRUE", "t", "1", "include", "Show", 1, True])
def test_conditional_truthy(value):
    assert SmsTemplate("a((x??, shown)) b").render({"x": value}).body == "a, shown b"


@pytest.mark.parametrize("value", ["no", "", "false", "0", "2", "maybe", 0, False, ["yes"]])
def test_conditional_falsy(value):
    assert SmsTemplate("a((x??, shown)) b").render({"x": value}).body == "a b"


def test_conditional_still_required():
    with pytest.raises(MissingPersonalisation):
        SmsTemplate("a((x??shown))").render({})


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        (["a"], "a"),
        (["a", "b"], "a and b"),
        (["a", "b", "c"], "a, b and c"),
        (["a", None, "", "b"], "a and b"),
        ([], ""),
        ([None, ""], ""),
    ],
)
def test_sms_lists_inline(items, expected):
    assert SmsTemplate("[((x))]").render({"x": items}).body == f"[{expected}]"


def test_email_lists_become_bullets():
    rendered = EmailTemplate("s", "Items:((x))\nAfter").render({"x": ["a", "b"]})
    assert rendered.body == "Items:\n\n* a\n* b\n\nAfter"
    assert rendered.html_body.count("<li") == 2
    assert "• a\n• b" in rendered.text


def test_values_are_never_expanded_again():
    rendered = SmsTemplate("((a)) ((b))").render({"a": "((b))", "b": "((a))"})
    assert rendered.body == "((b)) ((a))"


def test_html_in_values_is_escaped_in_email():
    rendered = EmailTemplate("((s))", "Hi ((name))").render({"name": "<script>alert(1)</script>", "s": "x"})
    assert "<script" not in rendered.html
    assert "&lt;script&gt;" in rendered.html
    assert rendered.body == "Hi <script>alert(1)</script>"


class TestSms:
    def test_prefix_counts_for_fragments_not_limit(self):
        template = SmsTemplate("x" * 155, prefix="Service")
        rendered = template.render({})
        assert rendered.body == "x" * 155
        assert rendered.text_to_send == "Service: " + "x" * 155
        assert rendered.character_count == 155
        assert rendered.fragment_count == 2

    def test_body_is_sanitised(self):
        assert SmsTemplate("“Hi” ((n)) — 😀").render({"n": "françois"}).body == '"Hi" francois - ?'

    def test_too_long(self):
        with pytest.raises(MessageTooLong) as error:
            SmsTemplate("((x))").render({"x": "a" * 919})
        assert error.value.message == (
            "Your message is too long. Text messages cannot be longer than 918 characters. "
            "Your message is 919 characters long."
        )

    def test_exactly_918_is_fine_even_with_a_prefix(self):
        rendered = SmsTemplate("a" * 918, prefix="Long service name").render({})
        assert rendered.character_count == 918

    def test_extension_characters_count_twice_for_the_limit(self):
        with pytest.raises(MessageTooLong) as error:
            SmsTemplate("((x))").render({"x": "[" * 460})
        assert error.value.size == 920

    def test_length_check_can_be_deferred(self):
        rendered = SmsTemplate("((x))").render({"x": "a" * 1000}, check_length=False)
        with pytest.raises(MessageTooLong):
            rendered.check_length()

    @pytest.mark.parametrize("value", ["", "   ", "\n\n", "\u200b"])
    def test_empty(self, value):
        with pytest.raises(MessageEmpty) as error:
            SmsTemplate("((x))").render({"x": value})
        assert error.value.message == "Your message is empty."

    def test_missing_checked_before_empty(self):
        with pytest.raises(MissingPersonalisation):
            SmsTemplate("((x))").render({})

    def test_welsh_values_make_it_unicode(self):
        assert SmsTemplate("Helo ((n))").render({"n": "Ŵyn"}).is_unicode is True


class TestEmail:
    def test_subject_filled_tidied_single_line(self):
        rendered = EmailTemplate('Hello ((name)) - "x"\n  again', "b").render({"name": "Jo"})
        assert rendered.subject == "Hello Jo – “x” again"

    def test_too_long(self):
        with pytest.raises(MessageTooLong) as error:
            EmailTemplate("s", "((x))").render({"x": "é" * 1_000_001})
        assert error.value.message == (
            "Your message is too long. Emails cannot be longer than 2000000 bytes. Your message is 2000002 bytes."
        )

    def test_empty(self):
        with pytest.raises(MessageEmpty):
            EmailTemplate("s", "((x))").render({"x": " "})

    def test_unsubscribe_link(self):
        rendered = EmailTemplate("s", "Body").render(unsubscribe_url="https://example.com/unsub?a=1")
        assert rendered.body == "Body"
        assert 'href="https://example.com/unsub?a=1">Unsubscribe from these emails</a>' in rendered.html
        assert rendered.text.endswith("Unsubscribe from these emails: https://example.com/unsub?a=1")


class TestLetter:
    def test_render_fills_subject_body_and_contact_block(self):
        template = LetterTemplate("Re: ((ref))", "Dear ((name))", contact_block="Call ((phone))")
        assert template.placeholders == ["ref", "name", "phone"]
        rendered = template.render({"ref": "A1", "name": "Jo", "phone": "0300"})
        assert (rendered.subject, rendered.body, rendered.contact_block) == ("Re: A1", "Dear Jo", "Call 0300")

    def test_lists_are_bullets(self):
        assert LetterTemplate("s", "x((l))").render({"l": ["a", "b"]}).body == "x\n\n* a\n* b\n"

    def test_qr_too_long_reported_before_missing_personalisation(self):
        template = LetterTemplate("s", "Intro\n\nqr: ((url))\n\n((other))")
        with pytest.raises(QrCodeTooLong) as error:
            template.render({"url": "https://example.com/" + "a" * 500})
        assert error.value.message == "Cannot create a usable QR code - the link is too long"
        assert error.value.num_bytes == 520
        assert error.value.max_bytes == 504

    def test_qr_within_limit(self):
        rendered = LetterTemplate("s", "qr: ((url))").render({"url": "https://example.com/" + "a" * 484})
        assert rendered.body.startswith("qr: https://")


def test_lists_in_subjects_are_inline():
    rendered = EmailTemplate("About ((things))", "b").render({"things": ["a", "b", "c"]})
    assert rendered.subject == "About a, b and c"
    assert LetterTemplate("Re ((x))", "b").render({"x": ["a", "b"]}).subject == "Re a and b"


def test_very_long_keys_and_templates_work_without_caching():
    key = "k" * 10_000
    assert SmsTemplate(f"(({key}))").render({key: "v"}).body == "v"
    long_template = "x " * 15_000 + "((name))"
    assert EmailTemplate("s", long_template).render({"name": "Jo"}).body.endswith("Jo")
