"""Notification status rules: which receipts may change a notification, and what counts as final."""

from __future__ import annotations

# Receipts only move notifications that are still in flight; anything else is final and never changes.
UPDATABLE = frozenset({"created", "sending", "pending", "sent", "pending-virus-check"})

# completed_at is shown (as the last update time) only for these statuses.
COMPLETED = frozenset(
    {
        "sent",
        "delivered",
        "failed",
        "technical-failure",
        "temporary-failure",
        "permanent-failure",
        "returned-letter",
        "cancelled",
        "validation-failed",
    }
)

# Within the in-flight statuses, the order a report may move forward in (a late "sending" never undoes "pending").
_RANK = {"pending-virus-check": 0, "created": 1, "sending": 2, "pending": 3, "sent": 3}


def may_apply(current: str, new: str) -> bool:
    """True if a report of ``new`` should replace ``current``. Idempotent: the same status twice is a no-op.

    The one move out of a final status: a printed letter (``delivered``) can later come back as ``returned-letter``.
    """
    if current == "delivered" and new == "returned-letter":
        return True
    if current == new or current not in UPDATABLE:
        return False
    if new in _RANK:
        return _RANK[new] > _RANK[current]
    return True


def is_final(status: str) -> bool:
    return status not in UPDATABLE
