"""Small helpers for the cross-service tests."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def eventually(
    fetch: Callable[[], T], until: Callable[[T], bool], *, timeout: float = 30, every: float = 0.2
) -> T:
    """Poll ``fetch`` until ``until(value)`` holds; return the last value (the caller asserts on it)."""
    deadline = time.monotonic() + timeout
    value = fetch()
    while not until(value) and time.monotonic() < deadline:
        time.sleep(every)
        value = fetch()
    return value


def status_or_none(client: Any, notification_id: str) -> dict[str, Any] | None:
    """The notification, or None while it is not stored yet (the client raises on 404)."""
    from notifications_python_client.errors import HTTPError

    try:
        return client.get_notification_by_id(notification_id)  # type: ignore[no-any-return]
    except HTTPError as exc:
        if exc.status_code == 404:
            return None
        raise


def csv_bytes(rows: list[list[str]], delimiter: str = ",") -> bytes:
    """A spreadsheet as CSV (or TSV) bytes, for uploads."""
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\n").writerows(rows)
    return out.getvalue().encode()
