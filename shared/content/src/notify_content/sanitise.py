"""``sanitise_content_for`` (public-api.md §5.2): neutralise links and markdown in chosen email values.

For each personalisation key named (case-insensitively) in ``sanitise_content_for`` whose value is a string:
(1) URLs are removed, except a bare domain-like word (letters, digits, ``.`` and ``-`` only), which is broken by
a space after each ``.`` so mail clients do not link it; then (2) each markdown-significant character
`` ` * _ ( ) \\ { } [ ] < > # + - . ! | `` is escaped with a backslash.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

_STOP = r"[^\s<>()\[\]{}\"']"
_URL_WITH_SCHEME = re.compile(rf"\b[a-z][a-z0-9+.\-]*://{_STOP}*", re.IGNORECASE)
_MAILTO = re.compile(rf"\bmailto:{_STOP}+", re.IGNORECASE)
_WWW = re.compile(rf"\bwww\.{_STOP}+", re.IGNORECASE)
_DOMAIN_WITH_PATH = re.compile(rf"\b[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.[a-z]{{2,63}}[/?#]{_STOP}*", re.IGNORECASE)
_BARE_DOMAIN = re.compile(r"\b[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.[a-z]{2,63}\b(?!@)", re.IGNORECASE)
_MARKDOWN_CHARACTERS = re.compile(r"([`*_()\\{}\[\]<>#+\-.!|])")


def sanitise_value(value: str) -> str:
    """Apply steps (1) and (2) to one value."""
    for pattern in (_URL_WITH_SCHEME, _MAILTO, _WWW, _DOMAIN_WITH_PATH):
        value = pattern.sub("", value)
    value = _BARE_DOMAIN.sub(lambda match: match.group(0).replace(".", ". "), value)
    return _MARKDOWN_CHARACTERS.sub(r"\\\1", value)


def sanitise_content_for(
    personalisation: Mapping[str, Any] | None, keys: Iterable[str] | None
) -> tuple[dict[str, Any], dict[str, dict[str, str]]]:
    """Return ``(new personalisation, sanitised_content)``.

    ``sanitised_content`` is the 201 response's field: ``{key: {"unsanitised": …, "sanitised": …}}`` for each
    key whose value changed, ``{}`` when nothing did.  Non-string values are left alone.
    """
    result = dict(personalisation or {})
    wanted = {str(key).casefold() for key in (keys or [])}
    changed: dict[str, dict[str, str]] = {}
    for key, value in result.items():
        if str(key).casefold() in wanted and isinstance(value, str):
            cleaned = sanitise_value(value)
            if cleaned != value:
                result[key] = cleaned
                changed[key] = {"unsanitised": value, "sanitised": cleaned}
    return result, changed
