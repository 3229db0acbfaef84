"""Pre-parsed email templates: parse the markdown once per template, not once per email.

Parsing is most of the cost of rendering an email.  A template's markdown is parsed once with each
placeholder replaced by a unique sentinel; an email whose values are all *plain* then only substitutes the
values into the text tokens.  A plain value cannot change the markdown structure, so the result is identical
to parsing the filled text (``tests/test_email_skeleton.py`` checks this against the full path).

Plain means: a non-empty one-line string of letters, digits, spaces and ``, . ' ’ : / @ ? % £ $ -`` with no
markdown, HTML, entity or URL syntax, no leading/trailing space, not starting or ending with ``/`` or ``:``
and without ``//``; when a placeholder starts a line the value must also start with a letter (``1.`` would
make a list).  Anything else (lists, conditionals, markdown in values, a placeholder inside a link) falls
back to the full parse.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from markdown_it.token import Token

from .email_body import render_tokens
from .markdown import parse
from .placeholders import fill, find_placeholders

_PLAIN = re.compile(r"[^\W_][\w ,.'’:/@?%£$-]*", re.UNICODE)
_SENTINEL = re.compile("\ue000(\\d+)\ue001")
_LINE_START_PLACEHOLDER = re.compile(r"(?:^|\n)[ \t]*\(\(", re.MULTILINE)


def _sentinel(index: int) -> str:
    return f"\ue000{index}\ue001"


@dataclass(frozen=True, slots=True)
class Skeleton:
    tokens: list[Token]
    index_of_key: dict[str, int]
    placeholder_starts_line: bool

    @classmethod
    def build(cls, content: str) -> Skeleton | None:
        """A skeleton for ``content``, or None when the template itself rules the fast path out."""
        placeholders = find_placeholders(content)
        if "\ue000" in content or "\ue001" in content or any(p.is_conditional for p in placeholders):
            return None
        index_of_key = {key: i for i, key in enumerate(dict.fromkeys(p.key for p in placeholders))}
        sentinels = {key: _sentinel(i) for key, i in index_of_key.items()}
        source = fill(content, sentinels, list_style="bullets")
        tokens = parse(source)
        if _sentinels_in_text(tokens) != source.count("\ue000") or _sentinels_elsewhere(tokens):
            return None  # a placeholder inside a link, an image or a table: parse each email fully
        return cls(tokens, index_of_key, _LINE_START_PLACEHOLDER.search(content) is not None)

    def render(self, values: Mapping[str, Any]) -> tuple[str, str] | None:
        """``(html fragment, text)`` for normalised-key ``values``, or None if a value is not plain."""
        texts: list[str] = [""] * len(self.index_of_key)
        for key, index in self.index_of_key.items():
            value = values.get(key)
            if value is None or isinstance(value, list | tuple | dict):
                return None
            text = str(value)
            if not _is_plain(text, self.placeholder_starts_line):
                return None
            texts[index] = text

        def substitute(content: str) -> str:
            if "\ue000" not in content:
                return content
            return _SENTINEL.sub(lambda match: texts[int(match.group(1))], content)

        return render_tokens(self.tokens, substitute)


def _is_plain(text: str, starts_line: bool) -> bool:
    if not _PLAIN.fullmatch(text) or text != text.strip() or "//" in text or text.endswith(("/", ":")):
        return False
    return not starts_line or text[0].isalpha()


def _sentinels_in_text(tokens: list[Token]) -> int:
    return sum(
        child.content.count("\ue000")
        for token in tokens
        if token.type == "inline"
        for child in token.children or []
        if child.type == "text"
    )


def _sentinels_elsewhere(tokens: list[Token]) -> bool:
    for token in tokens:
        for child in [token, *(token.children or [])]:
            attrs = " ".join(str(v) for v in (child.attrs or {}).values())
            if "\ue000" in attrs or "%EE%80%80" in attrs.upper() or "\ue000" in (child.info or ""):
                return True
    return False
