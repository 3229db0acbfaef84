"""The pre-parsed (skeleton) email path must give exactly what parsing the filled text gives."""

from hypothesis import given, settings
from hypothesis import strategies as st
from notify_content import EmailTemplate
from notify_content.email_body import render_parts
from notify_content.email_skeleton import Skeleton

LINES = [
    "# Heading ((a))",
    "## ((b)) heading",
    "((a))",
    "((a)). after",
    "((b))) after",
    "Dear ((a)),",
    "* item ((b))",
    "1. item ((a))",
    "^ inset ((b))",
    "---",
    "",
    "",
    "text ((a))((b)) more",
    "see https://example.com/((a))",
    "[link ((a))](https://example.com)",
    "[link](https://example.com/((b)))",
    "http:((a))",
    "((b))//example.com",
    "| ((a)) | x |",
    "![((a))](https://example.com/i.png)",
    'quote "((a))" - it\'s',
    "((a??conditional))",
]
VALUE_ALPHABET = "abcXYZ019 ,.'’:/@?%£$-#*_[]()<>&|\n^>•é"

values = st.text(alphabet=VALUE_ALPHABET, max_size=12)


@settings(max_examples=300, deadline=None, database=None)
@given(st.lists(st.sampled_from(LINES), min_size=1, max_size=8), values, values)
def test_skeleton_matches_full_parse(lines, a, b):
    content = "\n".join(lines)
    template = EmailTemplate("s", content)
    try:
        rendered = template.render({"a": a, "b": b}, check_length=False)
    except Exception:
        return  # empty message etc.: not about the skeleton
    assert (rendered.html_body, rendered.text) == render_parts(rendered.body)


def test_fast_path_is_taken_for_plain_values():
    skeleton = Skeleton.build("Dear ((name)),\n\n* ((item))")
    assert skeleton is not None
    assert skeleton.render({"name": "Jo Bloggs", "item": "Ref AB-123, 10:30"}) is not None
    assert skeleton.render({"name": "Jo", "item": "*bold*"}) is None
    assert skeleton.render({"name": "Jo", "item": ["a", "b"]}) is None


def test_no_skeleton_for_placeholders_in_links_or_conditionals():
    assert Skeleton.build("[x](https://example.com/((id)))") is None
    assert Skeleton.build("https://example.com/((id))") is None
    assert Skeleton.build("a ((x??shown))") is None


def test_digit_values_at_line_start_take_the_full_path():
    skeleton = Skeleton.build("((n)). thing")
    assert skeleton is not None
    assert skeleton.render({"n": "1"}) is None
    rendered = EmailTemplate("s", "((n)). thing").render({"n": "1"})
    assert "<ol" in rendered.html_body


STRUCTURAL_LINES = [line for line in LINES if "http" not in line and "??" not in line and "](" not in line]
PLAIN_ALPHABET = "abcXYZ019 ,.'’:/@?%£$-é"


@settings(max_examples=300, deadline=None, database=None)
@given(
    st.lists(st.sampled_from(STRUCTURAL_LINES), min_size=1, max_size=8),
    st.text(alphabet=PLAIN_ALPHABET, min_size=1, max_size=12),
    st.text(alphabet=PLAIN_ALPHABET, min_size=1, max_size=12),
)
def test_skeleton_matches_full_parse_for_values_near_the_plain_boundary(lines, a, b):
    content = "\n".join(lines)
    try:
        rendered = EmailTemplate("s", content).render({"a": a, "b": b}, check_length=False)
    except Exception:
        return
    assert (rendered.html_body, rendered.text) == render_parts(rendered.body)
