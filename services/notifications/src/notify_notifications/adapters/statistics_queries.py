"""Counting a service's notifications by channel and status, for the admin statistics (admin-api.md §4.3)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import func, literal_column, select
from sqlalchemy.engine import Connection

from .tables import notifications


def status_counts(
    conn: Connection,
    service_ids: list[uuid.UUID],
    *,
    start: datetime,
    end: datetime | None = None,
    include_test_key: bool = False,
) -> dict[uuid.UUID, list[tuple[str, str, int]]]:
    """``{service id: [(channel, status, count)…]}`` for notifications created in ``[start, end)``."""
    if not service_ids:
        return {}
    query = (
        select(
            notifications.c.service_id,
            notifications.c.notification_type,
            notifications.c.status,
            func.count(),
        )
        .where(notifications.c.service_id.in_(service_ids), notifications.c.created_at >= start)
        .group_by(notifications.c.service_id, notifications.c.notification_type, notifications.c.status)
    )
    if end is not None:
        query = query.where(notifications.c.created_at < end)
    if not include_test_key:
        query = query.where(notifications.c.key_type != "test")
    result: dict[uuid.UUID, list[tuple[str, str, int]]] = defaultdict(list)
    for sid, channel, status, count in conn.execute(query):
        result[sid].append((channel, status, count))
    return result


def monthly_counts(
    conn: Connection, service_id: uuid.UUID, *, start: datetime, end: datetime
) -> list[tuple[str, str, str, int]]:
    """``(YYYY-MM in London, channel, status, count)`` for a service's live notifications in ``[start, end)``."""
    month: Any = func.to_char(
        func.timezone(literal_column("'Europe/London'"), notifications.c.created_at), "YYYY-MM"
    )
    rows = conn.execute(
        select(month, notifications.c.notification_type, notifications.c.status, func.count())
        .where(
            notifications.c.service_id == service_id,
            notifications.c.key_type != "test",
            notifications.c.created_at >= start,
            notifications.c.created_at < end,
        )
        .group_by(month, notifications.c.notification_type, notifications.c.status)
    )
    return [(m, c, s, n) for m, c, s, n in rows]
