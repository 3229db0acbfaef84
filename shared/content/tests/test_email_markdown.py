import re

import pytest
from notify_content import EmailTemplate
from notify_content.email_body import render_html, render_text


def tags(html: str) -> list[str]:
    return re.findall(r"<([a-z0-9]+)[\s>]", html)


@pytest.mark.parametrize(
    ("source", "expected_tags"),
    [
        ("# Title", ["h2"]),
        ("## Sub", ["h3"]),
        ("### Deeper", ["p"]),
        ("#### Deeper still", ["p"]),
        ("* a\n* b", ["ul", "li", "li"]),
        ("- a\n- b", ["ul", "li", "li"]),
        ("• a\n• b", ["ul", "li", "li"]),
        ("* a\n- b\n• c", ["ul", "li", "li", "li"]),
        ("1. a\n2. b", ["ol", "li", "li"]),
        ("^ inset", ["blockquote", "p"]),
        ("---", ["hr"]),
        ("***", ["hr"]),
        ("___", ["hr"]),
        ("- - -", ["hr"]),
        ("text\n---", ["p", "hr"]),  # not a setext heading
        ("one\ntwo", ["p", "br"]),
        ("one\n\ntwo", ["p", "p"]),
        ("[x](https://example.com)", ["p", "a"]),
        ("https://example.com/path", ["p", "a"]),
        ("> not a quote", ["p"]),
        ("    indented is not code", ["p"]),
        ("```\nfenced is not code\n```", ["p", "br", "br"]),
        ("![alt](https://example.com/i.png)", []),
        ("| a | b |\n|---|---|\n| 1 | 2 |", []),
    ],
)
def test_markdown_subset(source, expected_tags):
    assert tags(render_html(source)) == expected_tags


@pytest.mark.parametrize(
    "source",
    ["*emphasis*", "**bold**", "_under_", "~~strike~~", "`code`"],
)
def test_inline_formatting_is_shown_literally(source):
    html = render_html(source)
    assert source in html
    assert tags(html) == ["p"]


@pytest.mark.parametrize(
    "source",
    [
        "GOV.UK",
        "gov.uk",
        "www.gov.uk",
        "example.com",
    ],
)
def test_only_http_urls_are_linked(source):
    assert "<a" not in render_html(source)


def test_trailing_punctuation_is_not_part_of_the_link():
    html = render_html("Go to https://example.com/a. Or (https://example.com/b), or https://e.org/w_(x)")
    assert re.findall(r'href="([^"]+)"', html) == [
        "https://example.com/a",
        "https://example.com/b",
        "https://e.org/w_(x)",
    ]


@pytest.mark.parametrize(
    "source",
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        "[click](javascript:alert(1))",
        "[click](JAVASCRIPT:alert(1))",
        "[click](vbscript:msgbox)",
        "[click](data:text/html;base64,PHNjcmlwdD4=)",
        '<a href="javascript:alert(1)">x</a>',
        "<iframe src=https://evil.example></iframe>",
        "<div onclick=alert(1)>x</div>",
        "javascript:alert(1)",
        '[x](https://ok.example "title onmouseover=alert(1)")',
    ],
)
def test_nothing_executable_survives(source):
    html = EmailTemplate("s", source + "\n\n((v))").render({"v": source}).html.lower()
    assert "<script" not in html and "<img" not in html and "<iframe" not in html and "<div" not in html
    assert not re.search(r"<[^>]*\son[a-z]+\s*=", html)
    assert not any(
        h.startswith(("javascript", "vbscript", "data")) for h in re.findall(r'href="([^"]*)"', html)
    )


def test_typography():
    html = render_html('It\'s "quoted" - really')
    assert "It’s “quoted” – really" in html


def test_plain_text_part():
    text = render_text(
        "# Title\n\nSee [the guide](https://example.com/g) or https://example.com\n\n* a\n* b\n\n---\n\nEnd"
    )
    assert text == (
        "Title\n-----\n\nSee the guide: https://example.com/g or https://example.com\n\n• a\n• b\n\n"
        + "=-" * 20
        + "=\n\nEnd"
    )


def test_html_document_has_accessibility_basics():
    html = EmailTemplate("Hello & welcome", "Body").render().html
    assert html.startswith("<!DOCTYPE html>")
    assert '<html lang="en">' in html
    assert "<title>Hello &amp; welcome</title>" in html
    assert 'role="presentation"' in html


def test_branding_values_are_escaped():
    from notify_content.email_layout import EmailBranding

    branding = EmailBranding(
        "org_banner",
        name="<script>x</script>",
        colour="red;background:url(x)",
        logo_url="javascript:alert(1)",
    )
    html = EmailTemplate("s", "b", branding=branding).render().html
    assert "<script" not in html
    assert "url(x)" not in html
    assert "javascript:" not in html
