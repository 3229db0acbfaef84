"""Template classes: fill placeholders and produce what each channel sends (behaviour.md §5).

All three classes are immutable and pure: the same template text and personalisation always render the same
output.  ``render`` raises, in Notify's order: ``MissingPersonalisation`` → ``MessageEmpty`` → (unless
``check_length=False``) ``MessageTooLong``.  The gateway checks length after recipients (public-api.md §5.0
step 10), so it renders with ``check_length=False`` and calls ``rendered.check_length()`` later.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import sms
from .email_body import render_parts
from .email_layout import EmailBranding, wrap
from .email_skeleton import Skeleton
from .errors import MessageEmpty, MessageTooLong, MissingPersonalisation
from .keys import insensitive, normalise_key
from .placeholders import ListStyle, fill, missing_names, placeholder_names
from .qr import check_qr_codes
from .typography import tidy_subject

EMAIL_MAX_BYTES = 2_000_000
Personalisation = Mapping[str, Any] | None


class _Template:
    _list_style: ListStyle = "bullets"

    def _texts(self) -> tuple[str | None, ...]:
        raise NotImplementedError

    @property
    def placeholders(self) -> list[str]:
        """Placeholder names in template order (subject, then body, then contact block), one per key."""
        return list(self._names_and_keys()[0])

    def _names_and_keys(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        # Templates are immutable, so the names are worked out once per instance.
        cached = self.__dict__.get("_names_keys")
        if cached is None:
            names = tuple(placeholder_names(*self._texts()))
            cached = self.__dict__["_names_keys"] = (names, tuple(map(normalise_key, names)))
        return cached

    def missing(self, personalisation: Personalisation) -> list[str]:
        return missing_names(self.placeholders, insensitive(personalisation))

    def _values(self, personalisation: Personalisation) -> dict[str, Any]:
        values = insensitive(personalisation)
        names, keys = self._names_and_keys()
        missing = [name for name, key in zip(names, keys, strict=True) if values.get(key) is None]
        if missing:
            raise MissingPersonalisation(missing)
        return values

    def _fill(self, text: str | None, values: Mapping[str, Any]) -> str:
        return fill(text or "", values, list_style=self._list_style)

    @staticmethod
    def _fill_subject(text: str | None, values: Mapping[str, Any]) -> str:
        """Subjects are one line, so lists in them are written inline (``a, b and c``)."""
        return tidy_subject(fill(text or "", values, list_style="inline"))


# --- SMS -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RenderedSms:
    body: str  # filled, sanitised and tidied; no prefix (the 201 `content.body`)
    text_to_send: str  # what the provider gets: "Prefix: body" when prefixed
    character_count: int  # of `body` (extension characters twice in GSM); checked against 918
    fragment_count: int  # of `text_to_send`
    is_unicode: bool

    def check_length(self) -> None:
        if self.character_count > sms.MAX_CHARACTERS:
            raise MessageTooLong.sms(self.character_count)


class SmsTemplate(_Template):
    _list_style: ListStyle = "inline"

    def __init__(self, content: str, *, prefix: str | None = None) -> None:
        self.content = content
        self.prefix = prefix

    def _texts(self) -> tuple[str | None, ...]:
        return (self.content,)

    def render(self, personalisation: Personalisation = None, *, check_length: bool = True) -> RenderedSms:
        values = self._values(personalisation)
        body = sms.tidy_whitespace(sms.sanitise(self._fill(self.content, values)))
        if not body:
            raise MessageEmpty()
        own = sms.count_sanitised(body)
        text_to_send = f"{sms.sanitise(self.prefix.strip())}: {body}" if self.prefix else body
        sent = sms.count_sanitised(text_to_send) if self.prefix else own
        rendered = RenderedSms(body, text_to_send, own.characters, sent.fragments, sent.is_unicode)
        if check_length:
            rendered.check_length()
        return rendered


# --- email ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    subject: str  # filled, typography tidied, one line
    body: str  # filled markdown source (the 201 `content.body`); its UTF-8 size is checked
    html: str  # complete HTML document (layout, branding, sanitised body)
    text: str  # text/plain part
    html_body: str = ""  # the sanitised body fragment alone

    @property
    def size_in_bytes(self) -> int:
        return len(self.body.encode("utf-8"))

    def check_length(self) -> None:
        if self.size_in_bytes > EMAIL_MAX_BYTES:
            raise MessageTooLong.email(self.size_in_bytes)


UNSUBSCRIBE_LINK_TEXT = "Unsubscribe from these emails"


class EmailTemplate(_Template):
    def __init__(self, subject: str, content: str, *, branding: EmailBranding | None = None) -> None:
        self.subject = subject
        self.content = content
        self.branding = branding
        self._skeleton: Skeleton | None | bool = False  # False: not built yet

    def _parts(
        self, markdown: str, values: Mapping[str, Any], unsubscribe_url: str | None
    ) -> tuple[str, str]:
        """HTML fragment and text part; from the pre-parsed template when the values allow it."""
        if not unsubscribe_url:
            if self._skeleton is False:
                self._skeleton = Skeleton.build(self.content)
            if self._skeleton is not None:
                parts = self._skeleton.render(values)  # type: ignore[union-attr]
                if parts is not None:
                    return parts
        return render_parts(markdown)

    def _texts(self) -> tuple[str | None, ...]:
        return (self.subject, self.content)

    def render(
        self,
        personalisation: Personalisation = None,
        *,
        check_length: bool = True,
        unsubscribe_url: str | None = None,
    ) -> RenderedEmail:
        """Render; with ``unsubscribe_url`` the HTML and text parts end with a rule and an unsubscribe link."""
        values = self._values(personalisation)
        body = self._fill(self.content, values)
        if not body.strip():
            raise MessageEmpty()
        subject = self._fill_subject(self.subject, values)
        markdown = body
        if unsubscribe_url:
            markdown = f"{body}\n\n---\n\n[{UNSUBSCRIBE_LINK_TEXT}]({_link_target(unsubscribe_url)})"
        html_body, text = self._parts(markdown, values, unsubscribe_url)
        rendered = RenderedEmail(
            subject=subject,
            body=body,
            html=wrap(html_body, subject=subject, branding=self.branding),
            text=text,
            html_body=html_body,
        )
        if check_length:
            rendered.check_length()
        return rendered


def _link_target(url: str) -> str:
    """Make a URL safe inside markdown ``(…)``: spaces and parentheses percent-encoded."""
    return url.strip().replace(" ", "%20").replace("(", "%28").replace(")", "%29")


# --- letters -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RenderedLetter:
    subject: str  # filled heading (the 201 `content.subject`)
    body: str  # filled markdown (the 201 `content.body`)
    contact_block: str | None = None
    welsh_subject: str | None = None  # bilingual letters (`welsh_then_english`) only
    welsh_body: str | None = None

    @property
    def is_bilingual(self) -> bool:
        return self.welsh_body is not None


class LetterTemplate(_Template):
    """English letter, or bilingual (Welsh pages first) when ``welsh_content`` is given."""

    def __init__(
        self,
        subject: str,
        content: str,
        contact_block: str | None = None,
        *,
        welsh_subject: str | None = None,
        welsh_content: str | None = None,
    ) -> None:
        self.subject = subject
        self.content = content
        self.contact_block = contact_block
        self.welsh_subject = welsh_subject
        self.welsh_content = welsh_content

    def _texts(self) -> tuple[str | None, ...]:
        return (self.welsh_subject, self.welsh_content, self.subject, self.content, self.contact_block)

    def render(self, personalisation: Personalisation = None) -> RenderedLetter:
        """QR-code size is checked first (public-api.md §5.0 step 6), on the body filled as far as possible."""
        partial = insensitive(personalisation)
        for text in (self.welsh_content, self.content):
            check_qr_codes(self._fill(text, partial))
        values = self._values(personalisation)
        body = self._fill(self.content, values)
        welsh_body = self._fill(self.welsh_content, values) if self.welsh_content is not None else None
        if not body.strip() and not (welsh_body or "").strip():
            raise MessageEmpty()
        contact = self._fill(self.contact_block, values) if self.contact_block is not None else None
        welsh_subject = self._fill_subject(self.welsh_subject, values) if welsh_body is not None else None
        return RenderedLetter(
            self._fill_subject(self.subject, values), body, contact, welsh_subject, welsh_body
        )
