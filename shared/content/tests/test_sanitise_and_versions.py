import pytest
from notify_content.sanitise import sanitise_content_for, sanitise_value
from notify_content.versions import TemplateVersion, render_version, template_for


def test_documented_example():
    assert sanitise_value("Amala, please [click this evil link](https://evil.link)") == (
        "Amala, please \\[click this evil link\\]\\(\\)"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("go to evil.link now", "go to evil\\. link now"),
        ("http://a.example/x?y=1 then", " then"),
        ("see www.example.com/path", "see "),
        ("see example.com/path?q=1", "see "),
        ("# heading * star _u_", "\\# heading \\* star \\_u\\_"),
        ("a|b!c+d-e`f{g}h<i>", "a\\|b\\!c\\+d\\-e\\`f\\{g\\}h\\<i\\>"),
        ("plain words", "plain words"),
    ],
)
def test_sanitise_value(value, expected):
    assert sanitise_value(value) == expected


def test_sanitise_content_for_reports_changed_keys_only():
    personalisation = {"Name": "[x](https://e.vil)", "other": "[x](https://e.vil)", "safe": "Jo", "n": 5}
    result, changed = sanitise_content_for(personalisation, ["name", "SAFE", "n"])
    assert result["Name"] == "\\[x\\]\\(\\)"
    assert result["other"] == personalisation["other"]
    assert result["n"] == 5
    assert changed == {"Name": {"unsanitised": "[x](https://e.vil)", "sanitised": "\\[x\\]\\(\\)"}}
    assert personalisation["Name"] == "[x](https://e.vil)"  # input untouched


def test_sanitise_content_for_nothing_to_do():
    assert sanitise_content_for({"a": "b"}, None) == ({"a": "b"}, {})


def test_sanitised_value_renders_as_text_not_a_link():
    version = TemplateVersion("t", 1, "email", "Hi ((name))", subject="s")
    personalisation, _ = sanitise_content_for({"name": "[click](https://evil.link)"}, ["name"])
    rendered = render_version(version, personalisation)
    assert "<a " not in rendered.html_body
    assert "[click]()" in rendered.html_body


def test_same_version_renders_the_same_and_is_cached():
    version = TemplateVersion("t", 3, "sms", "Hello ((name))")
    assert template_for(version) is template_for(TemplateVersion("t", 3, "sms", "Hello ((name))"))
    first = render_version(version, {"name": "Jo"}, sms_prefix="Svc")
    second = render_version(version, {"name": "Jo"}, sms_prefix="Svc")
    assert first == second
    assert first.text_to_send == "Svc: Hello Jo"


def test_letter_version():
    version = TemplateVersion("t", 1, "letter", "Body ((x))", subject="Subj", contact_block="CB")
    rendered = render_version(version, {"x": "1"})
    assert (rendered.subject, rendered.body, rendered.contact_block) == ("Subj", "Body 1", "CB")
