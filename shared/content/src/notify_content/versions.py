"""Rendering a stored template *version*.

A notification keeps its template id and version and is always rendered with that version (behaviour.md §5.5).
:class:`TemplateVersion` is the immutable snapshot callers load from storage; :func:`template_for` turns it into
the channel's template class (cached per snapshot), and :func:`render_version` renders it.  Because the
snapshot is frozen and rendering is pure, one version always renders the same output.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from .email_layout import EmailBranding
from .templates import (
    EmailTemplate,
    LetterTemplate,
    Personalisation,
    RenderedEmail,
    RenderedLetter,
    RenderedSms,
    SmsTemplate,
)

TemplateType = Literal["sms", "email", "letter"]


@dataclass(frozen=True, slots=True)
class TemplateVersion:
    template_id: str
    version: int
    template_type: TemplateType
    content: str
    subject: str | None = None
    contact_block: str | None = None


@lru_cache(maxsize=512)
def template_for(
    version: TemplateVersion, *, sms_prefix: str | None = None, branding: EmailBranding | None = None
) -> SmsTemplate | EmailTemplate | LetterTemplate:
    if version.template_type == "sms":
        return SmsTemplate(version.content, prefix=sms_prefix)
    if version.template_type == "email":
        return EmailTemplate(version.subject or "", version.content, branding=branding)
    if version.template_type == "letter":
        return LetterTemplate(version.subject or "", version.content, contact_block=version.contact_block)
    raise ValueError(f"unknown template type {version.template_type!r}")


def render_version(
    version: TemplateVersion, personalisation: Personalisation = None, **options: Any
) -> RenderedSms | RenderedEmail | RenderedLetter:
    """Render ``version``.  ``options``: ``sms_prefix`` / ``branding`` select the template; the rest
    (``check_length``, ``unsubscribe_url``) go to ``render``."""
    template = template_for(
        version, sms_prefix=options.pop("sms_prefix", None), branding=options.pop("branding", None)
    )
    return template.render(personalisation, **options)
