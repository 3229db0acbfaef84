"""Print-provider receipts → letter states and reported statuses (behaviour.md §8, §9).

``DESPATCHED`` → delivered (public "received"), ``REJECTED`` → technical-failure, ``RETURNED`` → returned-letter.
Receipts may arrive late, twice or out of order: each moves a letter only from the states it can follow, so a
duplicate or a receipt that comes after a later one changes nothing. A receipt may arrive while the letter is still
``batched`` (the printer took the upload but our record of it was lost in a crash): it is applied all the same.
"""

from __future__ import annotations

from typing import Literal

ReceiptCode = Literal["DESPATCHED", "REJECTED", "RETURNED"]
RECEIPT_CODES: tuple[ReceiptCode, ...] = ("DESPATCHED", "REJECTED", "RETURNED")

WITH_PRINTER = frozenset({"batched", "sent"})
_RULES: dict[str, tuple[frozenset[str], str, str]] = {
    # code: (states it applies to, new state, reported status)
    "DESPATCHED": (WITH_PRINTER, "despatched", "delivered"),
    "REJECTED": (WITH_PRINTER, "rejected", "technical-failure"),
    "RETURNED": (WITH_PRINTER | {"despatched"}, "returned", "returned-letter"),
}
# States in which a receipt for the letter is expected at all (anything else is a receipt for a letter that was
# never handed to the printer: refused, so a provider bug is noticed).
KNOWN_TO_PRINTER = frozenset({"batched", "sent", "despatched", "rejected", "returned", "cancelled"})


def apply_receipt(state: str, code: str) -> tuple[str, str] | None:
    """(new state, status to report) for a receipt ``code`` on a letter in ``state``, or None to ignore it."""
    states, new_state, status = _RULES[code]
    if state not in states:
        return None
    return new_state, status
