"""Property-based tests (hypothesis) for the SMS counter and the placeholder engine."""

import math
import re

from hypothesis import given, settings
from hypothesis import strategies as st
from notify_content import EmailTemplate, SmsTemplate
from notify_content.placeholders import find_placeholders
from notify_content.sms import GSM_BASIC, GSM_EXTENSION, WELSH_NON_GSM, count, sanitise

FAST = settings(max_examples=150, deadline=None, database=None)  # no .hypothesis directory written
ALLOWED = GSM_BASIC | GSM_EXTENSION | WELSH_NON_GSM


def reference_fragments(text: str) -> tuple[int, int, bool]:
    """Independent computation straight from the rules in behaviour.md §6."""
    unicode = any(ch in WELSH_NON_GSM for ch in text)
    if unicode:
        length = sum(2 if ord(ch) > 0xFFFF else 1 for ch in text)
        return length, 1 if length <= 70 else math.ceil(length / 67), True
    length = sum(2 if ch in GSM_EXTENSION else 1 for ch in text)
    return length, 1 if length <= 160 else math.ceil(length / 153), False


@FAST
@given(st.text(max_size=600))
def test_sanitise_never_raises_and_only_emits_allowed_characters(text):
    result = sanitise(text)
    assert set(result) <= ALLOWED
    assert sanitise(result) == result


@FAST
@given(st.text(alphabet=st.sampled_from(sorted(ALLOWED)), max_size=1200))
def test_allowed_text_is_unchanged_and_counted_like_the_reference(text):
    assert sanitise(text) == text
    result = count(text)
    assert (result.characters, result.fragments, result.is_unicode) == reference_fragments(text)


@FAST
@given(st.text(max_size=1200))
def test_count_matches_reference_after_sanitising(text):
    result = count(text)
    assert (result.characters, result.fragments, result.is_unicode) == reference_fragments(sanitise(text))


names = st.text(alphabet="abcdefghij _-", min_size=1, max_size=8).filter(lambda n: n.strip(" _-"))
values = st.text(max_size=40)


@FAST
@given(st.lists(names, min_size=1, max_size=5, unique=True), st.lists(values, min_size=5, max_size=5))
def test_values_are_inserted_literally_and_never_expanded(keys, vals):
    content = " | ".join(f"(({key}))" for key in keys)
    # values that look like placeholders for the other keys must come through untouched
    personalisation = {key: f"(({keys[(i + 1) % len(keys)]}))" + vals[i] for i, key in enumerate(keys)}
    normalised = {re.sub(r"[\s_-]", "", k).lower() for k in keys}
    if len(normalised) != len(keys):
        return  # two names that match each other (e.g. "a_b" and "ab") are one placeholder
    body = EmailTemplate("s", content).render(personalisation, check_length=False).body
    assert body == " | ".join(personalisation[key] for key in keys)


@FAST
@given(st.text(max_size=80), st.text(max_size=80))
def test_email_html_never_contains_markup_from_values(prefix, value):
    payload = (
        prefix
        + '<script>alert(1)</script><img src=x onerror=alert(1)><a href="javascript:alert(1)">x</a>'
        + value
    )
    html = EmailTemplate("((v))", "Hi ((v))\n\n[link](javascript:alert(1))").render({"v": payload}).html
    assert "<script" not in html.lower()
    assert "<img" not in html.lower()
    assert not any(
        href.strip().startswith("javascript") for href in re.findall(r'href="([^"]*)"', html.lower())
    )
    assert not re.search(r"<[^>]+\son\w+=", html.lower())


@FAST
@given(st.dictionaries(names, values, max_size=5), st.text(alphabet="ab()?x ", max_size=60))
def test_rendering_is_idempotent_and_deterministic(personalisation, template_text):
    template = SmsTemplate(template_text + " ((a)) ((b))")
    personalisation = {**personalisation, "a": "A", "b": "B"}
    try:
        first = template.render(personalisation, check_length=False)
    except Exception as exc:  # missing/empty are fine; they must then be raised consistently
        try:
            template.render(personalisation, check_length=False)
        except type(exc):
            return
        raise AssertionError("inconsistent error") from None
    assert template.render(personalisation, check_length=False) == first
    # sanitising and tidying are idempotent: the output, used as a template, renders to itself
    if not find_placeholders(first.body):
        assert SmsTemplate(first.body).render({}, check_length=False).body == first.body
