"""Email address validation (behaviour.md §7.2).

The rules are Notify's, which are stricter than RFC 5322 in places (no quoted local parts, ASCII-only local
parts) and looser in others (a local part may start with a dot).  IDNA encoding of the domain is delegated to
the ``idna`` library (UTS #46 mapping, so upper-case and full-width input is folded first).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import idna

from ..errors import InvalidEmailError

MAX_ADDRESS_LENGTH = 320
MAX_DOMAIN_LENGTH = 253

# Removed anywhere in the address before checking: people paste these from documents and spreadsheets.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00a0\u202f\u2007"), None)
_LOCAL_PART = re.compile(r"[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~\-]+")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", re.IGNORECASE)
_TLD = re.compile(r"(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class EmailAddress:
    """``submitted`` is the cleaned text as given (for display); ``normalised`` is its lower-case form."""

    submitted: str
    normalised: str


def validate_email_address(address: str) -> EmailAddress:
    """Return the cleaned address or raise ``InvalidEmailError`` (``Not a valid email address``)."""
    cleaned = address.translate(_INVISIBLE).strip()
    if not _is_valid(cleaned):
        raise InvalidEmailError()
    return EmailAddress(submitted=cleaned, normalised=cleaned.lower())


def normalise_email_address(address: str) -> str:
    return validate_email_address(address).normalised


def _is_valid(address: str) -> bool:
    if len(address) > MAX_ADDRESS_LENGTH or ".." in address or address.count("@") != 1:
        return False
    local, domain = address.split("@")
    if not _LOCAL_PART.fullmatch(local) or not domain or domain.startswith("."):
        return False
    if any(ch.isspace() for ch in domain):
        return False
    try:
        ascii_domain = idna.encode(domain, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError):
        return False
    if len(ascii_domain) > MAX_DOMAIN_LENGTH:
        return False
    labels = ascii_domain.split(".")
    if len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels):
        return False
    return bool(_TLD.fullmatch(labels[-1]))
