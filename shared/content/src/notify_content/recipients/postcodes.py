"""UK postcode recognition and formatting for letter addresses (behaviour.md §7.3)."""

from __future__ import annotations

import re

# Every UK postcode area, plus the Crown dependencies (GY, JE, IM), British Forces (BF), the HMRC-style
# non-geographic area BX, and Girobank's GIR (whose only postcode, GIR 0AA, is special-cased below).
POSTCODE_AREAS = frozenset(
    """AB AL B BA BB BD BF BH BL BN BR BS BT BX CA CB CF CH CM CO CR CT CV CW DA DD DE DG DH DL DN DT DY
    E EC EH EN EX FK FY G GL GU GY HA HD HG HP HR HS HU HX IG IM IP IV JE KA KT KW KY L LA LD LE LL LN LS LU
    M ME MK ML N NE NG NN NP NR NW OL OX PA PE PH PL PO PR RG RH RM S SA SE SG SK SL SM SN SO SP SR SS ST SW
    SY TA TD TF TN TQ TR TS TW UB W WA WC WD WF WN WR WS WV YO ZE""".split()
)

# area letters, district digit, optional digit-or-letter, then the inward code: digit + two letters that are
# never C, I, K, M, O or V.
_SHAPE = re.compile(r"([A-Z]{1,2})([0-9][0-9A-Z]?)([0-9][ABD-HJLNP-UW-Z]{2})")
_GIROBANK = "GIR0AA"


def squash(text: str) -> str:
    """Upper-case with every whitespace character removed."""
    return "".join(text.split()).upper()


def is_real_uk_postcode(text: str) -> bool:
    squashed = squash(text)
    if squashed == _GIROBANK:
        return True
    match = _SHAPE.fullmatch(squashed)
    return bool(match) and match.group(1) in POSTCODE_AREAS


def format_postcode(text: str) -> str:
    """``sw1a1aa`` → ``SW1A 1AA``: upper-case with one space before the inward code (last three characters)."""
    squashed = squash(text)
    return f"{squashed[:-3]} {squashed[-3:]}"
