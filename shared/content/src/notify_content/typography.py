"""Small typographic clean-ups shared by email subjects, email bodies and letters."""

from __future__ import annotations

import re

_SPACED_HYPHEN = re.compile(r"(?<=\s)-{1,2}(?=\s)")
_OPENING_DOUBLE = re.compile(r'(^|[\s(\[{<\u2018])"')
_OPENING_SINGLE = re.compile(r"(^|[\s(\[{<\u201c])'")


def en_dashes(text: str) -> str:
    """A hyphen (or two) standing alone between spaces is a dash: ``a - b`` → ``a – b``."""
    return _SPACED_HYPHEN.sub("\u2013", text) if "-" in text else text


def smart_quotes(text: str) -> str:
    """Straight quotes to curly ones: opening after whitespace/brackets/start, closing (or apostrophe) elsewhere."""
    if '"' not in text and "'" not in text:
        return text
    text = _OPENING_DOUBLE.sub("\\1\u201c", text).replace('"', "\u201d")
    return _OPENING_SINGLE.sub("\\1\u2018", text).replace("'", "\u2019")


def normalise_whitespace(text: str) -> str:
    """Every whitespace run (newlines included) becomes one space; ends trimmed.  For one-line fields."""
    return " ".join(text.split())


def tidy_subject(text: str) -> str:
    return smart_quotes(en_dashes(normalise_whitespace(text)))
