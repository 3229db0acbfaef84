"""Throughput benchmarks (pytest-benchmark).  Not collected by the normal test run (the file name does not
match ``test_*.py``); run explicitly:

    uv run pytest shared/content/benchmarks/bench_content.py --benchmark-only

Targets (issue): SMS render with 5 placeholders + recipient validation ≥ 20,000/s on one core;
email render with markdown ≥ 2,000/s.
"""

from notify_content import EmailTemplate, SmsTemplate
from notify_content.recipients import check_phone_permissions, validate_phone_number

SMS = SmsTemplate(
    "Hello ((first name)), your appointment at ((clinic)) is on ((date)) at ((time)). Ref ((reference)).",
    prefix="NHS Example",
)
SMS_VALUES = {
    "first_name": "Amy",
    "clinic": "Riverside",
    "date": "3 March",
    "time": "10:30",
    "reference": "AB123",
}

EMAIL = EmailTemplate(
    "Your application ((reference))",
    """# Application received

Dear ((name)),

We have received your application on ((date)). Your reference is ((reference)).

## What happens next

* we check your documents
* we contact your referees
* we make a decision within ((days)) days

^ If you need help, call 0300 123 4567.

---

Find out more at https://www.gov.uk/example or [contact us](https://example.gov.uk/contact).
""",
)
EMAIL_VALUES = {"name": "Jo Bloggs", "date": "1 May", "reference": "AB-123", "days": 10}


def send_sms() -> str:
    phone = validate_phone_number("07700 900123")
    check_phone_permissions(phone, allow_international=False, allow_landlines=False)
    return SMS.render(SMS_VALUES).text_to_send


def test_sms_render_and_validate_recipient(benchmark):
    result = benchmark(send_sms)
    assert result.startswith("NHS Example: Hello Amy")


def test_email_render_with_markdown(benchmark):
    result = benchmark(EMAIL.render, EMAIL_VALUES)
    assert "<h2" in result.html and "• we check" in result.text


def test_email_render_with_markdown_in_values(benchmark):
    """Values holding markdown take the full parse on every render (no pre-parsed template)."""
    values = {**EMAIL_VALUES, "name": "Jo *Bloggs*", "days": "10 (ten)"}
    result = benchmark(EMAIL.render, values)
    assert "<h2" in result.html
