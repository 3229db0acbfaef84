"""Letter address validation (behaviour.md §7.3, messages and order of public-api.md §5.3)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ..errors import InvalidAddressError
from ..keys import insensitive
from .countries import find_country, is_uk_name
from .postcodes import format_postcode, is_real_uk_postcode

PostageZone = Literal["uk", "europe", "rest-of-world"]

MIN_LINES = 3
MAX_LINES = 7
TOO_FEW_LINES = "Address must be at least 3 lines"
TOO_MANY_LINES = "Address must be no more than 7 lines"
NOT_ALPHANUMERIC = "The first 2 lines of the address must both include at least one alphanumeric character"
BFPO_COUNTRY = "The last line of a BFPO address must not be a country."
BAD_LAST_LINE_INTERNATIONAL = "Last line of address must be a real UK postcode or another country"
BAD_LAST_LINE_UK = "Must be a real UK postcode"
BAD_FIRST_CHARACTER = (
    "Address lines must not start with any of the following characters: @ ( ) = [ ] ” \\ / , < >"
)
NO_FIXED_ABODE = "Must be a real address"

# The checked list has a straight double quote and `~`; the message (Notify's wording) shows `”` and no `~`.
_FORBIDDEN_FIRST = frozenset('@()=[]"\\/,<>~')
_BFPO_LINE = re.compile(r"(?:c/o\s*)?b\.?f\.?p\.?o\.?\s*(?:no\.?\s*)?(\d{1,4})", re.IGNORECASE)
_NFA_PHRASE = re.compile(r"no\s+fixed\s+(?:abode|address)", re.IGNORECASE)
_ASCII_ALNUM = re.compile(r"[A-Za-z0-9]")
_SPACE_BEFORE_PUNCTUATION = re.compile(r"\s+([,.])")
ADDRESS_KEYS = tuple(f"addressline{n}" for n in range(1, 8))


@dataclass(frozen=True, slots=True)
class PostalAddress:
    """A printable address: ``lines`` are normalised and end with the postcode, ``BFPO n`` or the country."""

    lines: tuple[str, ...]
    postcode: str | None
    international: bool
    postage_zone: PostageZone
    country: str | None
    bfpo_number: str | None = None

    @property
    def as_single_line(self) -> str:
        return single_line(self.lines)


def single_line(lines: Sequence[str]) -> str:
    """An address on one line, the form letters are stored and searched by."""
    return ", ".join(lines)


def address_lines_from_personalisation(personalisation: Mapping[str, Any] | None) -> list[str]:
    """Raw lines 1–7 (``postcode`` stands in for line 7 when line 7 is absent); keys matched insensitively."""
    values = insensitive(personalisation)
    keys = list(ADDRESS_KEYS)
    if keys[-1] not in values:
        keys[-1] = "postcode"
    return ["" if values.get(key) is None else str(values[key]) for key in keys]


def validate_address(
    personalisation: Mapping[str, Any] | None, *, allow_international_letters: bool
) -> PostalAddress:
    """Validate the address held in ``personalisation``; raise ``InvalidAddressError`` on the first failure."""
    return validate_address_lines(
        address_lines_from_personalisation(personalisation),
        allow_international_letters=allow_international_letters,
    )


def validate_address_lines(raw_lines: list[str], *, allow_international_letters: bool) -> PostalAddress:
    # A value may itself hold several lines (an address pasted into one field): each counts as a line.
    split = [part for raw in raw_lines for part in raw.splitlines()]
    lines = [line for line in map(normalise_line, split) if line]
    while lines and is_uk_name(lines[-1]):
        lines.pop()
    bfpo_number, lines = _extract_bfpo(lines)

    if len(lines) < MIN_LINES:
        raise InvalidAddressError(TOO_FEW_LINES)
    if len(lines) > MAX_LINES:
        raise InvalidAddressError(TOO_MANY_LINES)
    if not all(_ASCII_ALNUM.search(line) for line in lines[:2]):
        raise InvalidAddressError(NOT_ALPHANUMERIC)

    postcode: str | None = None
    country: tuple[str, str] | None = None
    if bfpo_number is not None:
        before_bfpo = lines[-2]
        if find_country(before_bfpo):
            raise InvalidAddressError(BFPO_COUNTRY)
        if is_real_uk_postcode(before_bfpo):
            postcode = lines[-2] = format_postcode(before_bfpo)
    elif is_real_uk_postcode(lines[-1]):
        postcode = lines[-1] = format_postcode(lines[-1])
    else:
        country = find_country(lines[-1]) if allow_international_letters else None
        if country is None:
            raise InvalidAddressError(
                BAD_LAST_LINE_INTERNATIONAL if allow_international_letters else BAD_LAST_LINE_UK
            )
        lines[-1] = country[0]

    if any(line[0] in _FORBIDDEN_FIRST for line in lines):
        raise InvalidAddressError(BAD_FIRST_CHARACTER)
    if any(line.strip(" .").casefold() == "nfa" or _NFA_PHRASE.search(line) for line in lines):
        raise InvalidAddressError(NO_FIXED_ABODE)

    return PostalAddress(
        lines=tuple(lines),
        postcode=postcode,
        international=country is not None,
        postage_zone=country[1] if country else "uk",  # type: ignore[arg-type]
        country=country[0] if country else None,
        bfpo_number=bfpo_number,
    )


def normalise_line(line: str) -> str:
    """Collapse whitespace, drop spaces before ``,``/``.``, strip surrounding spaces and trailing commas."""
    collapsed = " ".join(line.split())
    return _SPACE_BEFORE_PUNCTUATION.sub(r"\1", collapsed).rstrip(", ").strip()


def _extract_bfpo(lines: list[str]) -> tuple[str | None, list[str]]:
    """Move a ``BFPO n`` line to the end (British Forces addresses are routed on it)."""
    for index, line in enumerate(lines):
        match = _BFPO_LINE.fullmatch(line)
        if match:
            number = match.group(1)
            rest = lines[:index] + lines[index + 1 :]
            return number, [*rest, f"BFPO {number}"]
    return None, lines
