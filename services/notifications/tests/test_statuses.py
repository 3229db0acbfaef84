"""Status rules: receipts move notifications forward, final statuses never change, repeats are no-ops."""

import pytest
from notify_notifications.domain.statuses import UPDATABLE, is_final, may_apply


@pytest.mark.parametrize(
    ("current", "new", "expected"),
    [
        ("created", "sending", True),
        ("created", "delivered", True),
        ("sending", "delivered", True),
        ("sending", "pending", True),
        ("pending", "delivered", True),
        ("pending", "temporary-failure", True),
        ("sending", "sending", False),
        ("pending", "sending", False),
        ("sending", "created", False),
        ("delivered", "sending", False),
        ("delivered", "permanent-failure", False),
        ("permanent-failure", "delivered", False),
        ("technical-failure", "delivered", False),
        ("pending-virus-check", "created", True),
        ("sent", "delivered", True),
        ("delivered", "returned-letter", True),
        ("returned-letter", "returned-letter", False),
        ("returned-letter", "delivered", False),
        ("technical-failure", "returned-letter", False),
        ("sending", "returned-letter", True),  # returned before its despatch receipt arrived
        ("cancelled", "returned-letter", False),
        ("validation-failed", "returned-letter", False),
    ],
)
def test_may_apply(current: str, new: str, expected: bool) -> None:
    assert may_apply(current, new) is expected


def test_final_statuses_are_exactly_the_non_updatable_ones() -> None:
    assert not any(is_final(s) for s in UPDATABLE)
    assert all(is_final(s) for s in ("delivered", "permanent-failure", "temporary-failure", "cancelled"))
