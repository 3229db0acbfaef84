"""Golden tests: the full email HTML and text parts for fixed inputs.

Regenerate after an intended change with ``UPDATE_GOLDEN=1 uv run pytest shared/content/tests/test_email_golden.py``
and review the diff.
"""

import os
from pathlib import Path

import pytest
from notify_content import EmailTemplate
from notify_content.email_layout import EmailBranding

GOLDEN = Path(__file__).parent / "golden"

CONTENT = """# Your application

Dear ((name)),

We've received your application - reference ((ref)).

## What happens next

* we check your documents
- we contact your referees
• we decide

1. Step one
2. Step two

^ You must reply within 10 days.

---

Read more at https://www.gov.uk/apply or [contact us](https://example.gov.uk/contact).
GOV.UK is not a link. *Not emphasis* and `not code`.
### Third-level heading is a paragraph
![an image](https://example.com/x.png)

Reasons:((reasons))
Thanks"""

PERSONALISATION = {
    "name": "Jo <b>Bloggs</b>",
    "ref": "AB-123",
    "reasons": ["first", "", None, "second"],
}

CASES = {
    "govuk": None,
    "org_banner": EmailBranding("org_banner", name="Example <Org>", colour="#ff0000"),
    "both": EmailBranding(
        "both", name="Example Org", logo_url="https://example.com/logo.png", alt_text='Org "logo"'
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_email_golden(case):
    rendered = EmailTemplate("Application ((ref)) - update", CONTENT, branding=CASES[case]).render(
        PERSONALISATION
    )
    outputs = {
        f"{case}.html": rendered.html,
        f"{case}.txt": rendered.text,
        f"{case}.subject": rendered.subject,
    }
    for name, actual in outputs.items():
        path = GOLDEN / name
        if os.environ.get("UPDATE_GOLDEN"):
            path.write_text(actual, encoding="utf-8")
        assert actual == path.read_text(encoding="utf-8"), name


def test_golden_body_is_plain_markdown_with_lists_as_star_lines():
    rendered = EmailTemplate("s", CONTENT).render(PERSONALISATION)
    assert "Reasons:\n\n* first\n* second\n\nThanks" in rendered.body
    assert "Dear Jo <b>Bloggs</b>," in rendered.body
