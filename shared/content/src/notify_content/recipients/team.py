"""Who a service in trial mode (or a team key) may send to: its team members and its guest list (behaviour.md §2).

Both the gateway (one send) and jobs (every row of a CSV) read this from the service record notifications serves
(``team_members`` and ``guest_list``); comparison is on normalised forms (international digits, lower-case email).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import ContentError
from .email import validate_email_address
from .phone import validate_phone_number


def _normalised(kind: str, value: str | None) -> str | None:
    if not value:
        return None
    try:
        if kind == "sms":
            return validate_phone_number(value).normalised
        return validate_email_address(value).normalised
    except ContentError:
        return None


def team_and_guest_list(service: Mapping[str, Any], kind: str) -> frozenset[str]:
    """Normalised numbers (``kind="sms"``) or email addresses (``"email"``) of the team and the guest list."""
    field = "mobile_number" if kind == "sms" else "email_address"
    guest_type = "mobile" if kind == "sms" else "email"
    values: Iterable[str | None] = [
        *(m.get(field) for m in service.get("team_members", [])),
        *(g["recipient"] for g in service.get("guest_list", []) if g["type"] == guest_type),
    ]
    return frozenset(v for v in (_normalised(kind, x) for x in values) if v)
