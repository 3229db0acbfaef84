"""Text-message encoding and length rules (behaviour.md §6 and §5.4).

* :func:`sanitise` maps any text to what is actually sent: GSM 03.38 characters and the Welsh letters are kept,
  look-alikes are downgraded, everything else becomes ``?``.  It never raises and is idempotent.
* :func:`count` measures sanitised text: characters (extension characters count 2 in GSM-7; UTF-16 units in
  UCS-2), whether the message is UCS-2, and the number of fragments it is billed as.
* :func:`tidy_whitespace` is the whitespace clean-up applied to a filled-in template body.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass

MAX_CHARACTERS = 918  # 6 concatenated GSM fragments; counted without the service-name prefix

GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = frozenset("^{}\\[~]|€")
# Welsh letters outside GSM: kept as they are, which makes the whole message UCS-2.
WELSH_NON_GSM = frozenset("ÀÁÂÈÊËÌÍÎÏÒÓÔÙÚÛÝáâêëíîïóôúûýÿŴŵŶŷŸẀẁẂẃẄẅỲỳ")
_KEPT = GSM_BASIC | GSM_EXTENSION | WELSH_NON_GSM

# Look-alikes with a fixed replacement ("" removes the character).
_REPLACEMENTS: dict[str, str] = {
    **dict.fromkeys("\u2013\u2014\u2011\u2212\u2010\u2012\u2015", "-"),  # dashes, non-breaking hyphen, minus
    **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032", "'"),
    **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033", '"'),
    "\u2026": "...",
    **dict.fromkeys(
        "\u200b\u200c\u200d\u2060\ufeff\u2028\u2029\u00ad", ""
    ),  # zero-width, separators, soft hyphen
    **dict.fromkeys("\u00a0\u202f\u2007\u2009\u200a\u2002\u2003\t", " "),  # non-breaking/thin spaces, tab
    "Ł": "L",
    "ł": "l",
}
_WITHOUT_EXTENSION = dict.fromkeys(map(ord, GSM_EXTENSION), None)
FRAGMENT_LIMITS = {False: (160, 153), True: (70, 67)}  # is_unicode -> (single, per part when concatenated)


_CACHED_BELOW = 0x3000  # Latin, Greek, Cyrillic, punctuation and symbols: what real messages contain


class _Downgrades(dict[int, str]):
    """``str.translate`` table filled on first sight of each character (a cache; the mapping is fixed)."""

    def __missing__(self, codepoint: int) -> str:
        replacement = _downgrade(chr(codepoint))
        if codepoint < _CACHED_BELOW:  # bounded: a message cannot grow the cache towards all of Unicode
            self[codepoint] = replacement
        return replacement


_TABLE = _Downgrades()


def _downgrade(ch: str) -> str:
    if ch in _KEPT:
        return ch
    if ch in _REPLACEMENTS:
        return _REPLACEMENTS[ch]
    # An accented letter loses its accent when the bare letter is sendable (ç → c, ō → o).
    decomposed = unicodedata.normalize("NFKD", ch)
    base, marks = decomposed[:1], decomposed[1:]
    if base in GSM_BASIC and all(unicodedata.combining(mark) for mark in marks):
        return base
    return "?"


def sanitise(text: str) -> str:
    """Return ``text`` as it will be sent (see module docstring).  Pure; never raises."""
    if text.isascii() and "`" not in text and "\t" not in text and not _has_ascii_control(text):
        return text  # fast path: printable ASCII (bar the backtick) is all GSM
    return text.translate(_TABLE)


_ASCII_CONTROL = re.compile(r"[\x00-\x09\x0b\x0c\x0e-\x1f\x7f]")


def _has_ascii_control(text: str) -> bool:
    return _ASCII_CONTROL.search(text) is not None


@dataclass(frozen=True, slots=True)
class SmsCount:
    characters: int
    fragments: int
    is_unicode: bool


def count(text: str) -> SmsCount:
    """Length, encoding and fragment count of ``text`` once sanitised."""
    return count_sanitised(sanitise(text))


def count_sanitised(text: str) -> SmsCount:
    """As :func:`count` for text already passed through :func:`sanitise` (skips the second pass)."""
    is_unicode = not text.isascii() and not WELSH_NON_GSM.isdisjoint(text)
    if is_unicode:
        characters = len(text.encode("utf-16-le")) // 2
    else:
        characters = 2 * len(text) - len(text.translate(_WITHOUT_EXTENSION))  # extension characters twice
    return SmsCount(characters, fragment_count(characters, is_unicode=is_unicode), is_unicode)


def fragment_count(characters: int, *, is_unicode: bool) -> int:
    single, per_part = FRAGMENT_LIMITS[is_unicode]
    return 1 if characters <= single else math.ceil(characters / per_part)


def _already_tidy(text: str) -> bool:
    """Cheap check for the common one-line message (after :func:`sanitise`, whose only whitespace is space,
    ``\n`` and ``\r``).  Conservative: any doubt means the full clean-up runs."""
    return (
        "\n" not in text
        and "\r" not in text
        and "  " not in text
        and " ," not in text
        and " ." not in text
        and "\t" not in text
        and text == text.strip()
    )


_HORIZONTAL_RUNS = re.compile(r"[^\S\n]+")
_SPACE_BEFORE_PUNCTUATION = re.compile(r" +(?=[,.])")
_BLANK_LINES = re.compile(r"\n{3,}")


def tidy_whitespace(text: str) -> str:
    """Collapse space runs, trim each line, drop spaces before ``,``/``.``, keep at most one blank line, strip."""
    if _already_tidy(text):
        return text
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = (_HORIZONTAL_RUNS.sub(" ", line).strip() for line in text.split("\n"))
    text = _SPACE_BEFORE_PUNCTUATION.sub("", "\n".join(lines))
    return _BLANK_LINES.sub("\n\n", text).strip()
