"""Placeholder engine (behaviour.md §5.1).

Syntax ``((name))`` where the name is any text without ``(`` or ``)``; ``((name??text))`` is conditional.
Names match personalisation keys ignoring case, whitespace, ``_`` and ``-`` (:mod:`notify_content.keys`).

Filling is a single left-to-right pass over the *template* text, so a value that itself contains ``((x))`` is
copied literally and never expanded.  Values are turned into text here; escaping for an output format (HTML) is
the output renderer's job.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from .keys import normalise_key

_PLACEHOLDER = re.compile(r"\(\(([^()]+)\)\)")
CONDITIONAL_SEPARATOR = "??"
TRUTHY_VALUES = frozenset({"yes", "y", "true", "t", "1", "include", "show"})
ListStyle = Literal["inline", "bullets"]


@dataclass(frozen=True, slots=True)
class Placeholder:
    """One occurrence: ``name`` as written (trimmed), ``key`` its normalised form, ``text`` for conditionals."""

    name: str
    key: str
    text: str | None = None

    @property
    def is_conditional(self) -> bool:
        return self.text is not None


_CACHEABLE_TEXT_LENGTH = 20_000


def find_placeholders(text: str) -> tuple[Placeholder, ...]:
    """Every placeholder in ``text`` in order of appearance.

    Template texts are rendered many times, so results are cached, but only for texts of ordinary size.
    """
    text = text or ""
    return _find_cached(text) if len(text) <= _CACHEABLE_TEXT_LENGTH else _find(text)


@lru_cache(maxsize=1024)
def _find_cached(text: str) -> tuple[Placeholder, ...]:
    return _find(text)


def _find(text: str) -> tuple[Placeholder, ...]:
    return tuple(p for p in (_parse(m.group(1)) for m in _PLACEHOLDER.finditer(text)) if p)


def _parse(inner: str) -> Placeholder | None:
    return _parse_cached(inner) if len(inner) <= 200 else _parse_uncached(inner)


@lru_cache(maxsize=4096)
def _parse_cached(inner: str) -> Placeholder | None:
    return _parse_uncached(inner)


def _parse_uncached(inner: str) -> Placeholder | None:
    name, separator, text = inner.partition(CONDITIONAL_SEPARATOR)
    name = name.strip()
    if not normalise_key(name):
        return None  # `(( ))` or `((-))` is not a placeholder
    return Placeholder(name=name, key=normalise_key(name), text=text if separator else None)


def placeholder_names(*texts: str | None) -> list[str]:
    """Unique placeholder names across ``texts``, in order; the first spelling of each key is kept."""
    seen: dict[str, str] = {}
    for text in texts:
        for placeholder in find_placeholders(text or ""):
            seen.setdefault(placeholder.key, placeholder.name)
    return list(seen.values())


def missing_names(names: Iterable[str], values: Mapping[str, Any]) -> list[str]:
    """Names with no usable value (key absent or ``None``).  ``values`` must be keyed by normalised key."""
    return [name for name in names if values.get(normalise_key(name)) is None]


def is_truthy(value: Any) -> bool:
    """Whether a conditional placeholder shows its text."""
    if isinstance(value, list | tuple):
        return False
    return str(value).strip().lower() in TRUTHY_VALUES


def list_items(value: list | tuple) -> list[str]:
    """Items of a list value as text, with ``None`` and empty items dropped."""
    return [text for text in ("" if item is None else str(item) for item in value) if text.strip()]


def format_list(value: list | tuple, style: ListStyle) -> str:
    """``a, b and c`` inline (SMS), or a blank line then ``* item`` lines (email and letters)."""
    items = list_items(value)
    if not items:
        return ""
    if style == "inline":
        return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
    return "\n\n" + "\n".join(f"* {item}" for item in items) + "\n"


def value_as_text(value: Any, style: ListStyle) -> str:
    if isinstance(value, list | tuple):
        return format_list(value, style)
    return str(value)


def fill(
    text: str,
    values: Mapping[str, Any],
    *,
    list_style: ListStyle,
    transform: Callable[[str], str] | None = None,
    keep_missing: bool = True,
) -> str:
    """Replace each placeholder in ``text`` with its value.

    ``values`` must be keyed by normalised key (see :func:`notify_content.keys.insensitive`).  A placeholder
    without a value is left as written when ``keep_missing`` (used to preview and to measure partially filled
    templates); callers check :func:`missing_names` first when every value is required.  ``transform`` is
    applied to each inserted value (not to template text).
    """
    if "((" not in text:
        return text
    out: list[str] = []
    for segment in segments(text):
        if isinstance(segment, str):
            out.append(segment)
            continue
        placeholder, written = segment
        value = values.get(placeholder.key)
        if value is None:
            out.append(written if keep_missing else "")
        elif placeholder.text is not None:
            out.append(placeholder.text if is_truthy(value) else "")
        else:
            inserted = value if isinstance(value, str) else value_as_text(value, list_style)
            out.append(transform(inserted) if transform else inserted)
    return "".join(out)


Segment = str | tuple[Placeholder, str]


def segments(text: str) -> tuple[Segment, ...]:
    """``text`` split into literal strings and ``(placeholder, text as written)`` pairs (cached by size)."""
    return _segments_cached(text) if len(text) <= _CACHEABLE_TEXT_LENGTH else _segments(text)


@lru_cache(maxsize=1024)
def _segments_cached(text: str) -> tuple[Segment, ...]:
    return _segments(text)


def _segments(text: str) -> tuple[Segment, ...]:
    parts: list[Segment] = []
    position = 0
    for match in _PLACEHOLDER.finditer(text):
        placeholder = _parse(match.group(1))
        if placeholder is None:
            continue  # not a placeholder: stays part of the surrounding literal text
        if match.start() > position:
            parts.append(text[position : match.start()])
        parts.append((placeholder, match.group(0)))
        position = match.end()
    if position < len(text):
        parts.append(text[position:])
    return tuple(parts)
