"""Content engine shared by the gateway, notifications and the delivery services.

Submodules: ``recipients`` (phone, email, postal address, simulated recipients), ``placeholders``,
``templates`` (SmsTemplate, EmailTemplate, LetterTemplate), ``sms`` (encoding and counting), ``email_body`` /
``email_layout`` (HTML and text parts), ``sanitise`` (``sanitise_content_for``), ``versions`` (rendering a
stored template version), ``letters`` (PDF rendering and precompiled validation).  See README.md.
"""

from .errors import (
    ContentError,
    InternationalNotAllowed,
    InvalidAddressError,
    InvalidEmailError,
    InvalidPhoneError,
    InvalidRecipientError,
    LetterTooLong,
    MessageEmpty,
    MessageTooLong,
    MissingPersonalisation,
    NotAUkMobile,
    PdfValidationError,
    QrCodeTooLong,
)
from .templates import (
    EmailTemplate,
    LetterTemplate,
    RenderedEmail,
    RenderedLetter,
    RenderedSms,
    SmsTemplate,
)

__all__ = [
    "ContentError",
    "EmailTemplate",
    "InternationalNotAllowed",
    "InvalidAddressError",
    "InvalidEmailError",
    "InvalidPhoneError",
    "InvalidRecipientError",
    "LetterTemplate",
    "LetterTooLong",
    "MessageEmpty",
    "MessageTooLong",
    "MissingPersonalisation",
    "NotAUkMobile",
    "PdfValidationError",
    "QrCodeTooLong",
    "RenderedEmail",
    "RenderedLetter",
    "RenderedSms",
    "SmsTemplate",
]
