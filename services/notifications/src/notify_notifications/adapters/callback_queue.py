"""The table of callbacks to send: queued in the transaction of what they report, claimed by the dispatcher with a
lease, and their outcome recorded. Ops replay the exhausted ones (``notify-ops replay-callbacks``, in notify_tools)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Connection

from ..domain.callbacks import Callback
from .tables import callback_deliveries, service_callback_api

PENDING, DELIVERED, FAILED, EXHAUSTED = "pending", "delivered", "failed", "exhausted"

_INSERT = (
    insert(callback_deliveries)
    .on_conflict_do_nothing(index_elements=["dedupe_key"])
    .returning(callback_deliveries.c.id)
)


def enqueue(conn: Connection, callbacks: Iterable[Callback]) -> int:
    """Queue each callback whose service has configured its type (the rest are not owed), once per dedupe key.
    Returns how many were queued."""
    wanted = list(callbacks)
    if not wanted:
        return 0
    configured = {
        (row.service_id, row.callback_type)
        for row in conn.execute(
            select(service_callback_api.c.service_id, service_callback_api.c.callback_type).where(
                tuple_(service_callback_api.c.service_id, service_callback_api.c.callback_type).in_(
                    list({(c.service_id, c.callback_type) for c in wanted})
                )
            )
        )
    }
    rows = {
        c.dedupe_key: {
            "id": uuid.uuid4(),
            "service_id": c.service_id,
            "callback_type": c.callback_type,
            "dedupe_key": c.dedupe_key,
            "payload": c.payload,
            "state": PENDING,
        }
        for c in wanted
        if (c.service_id, c.callback_type) in configured
    }
    if not rows:
        return 0
    return len(conn.execute(_INSERT, list(rows.values())).all())


def claim(
    conn: Connection, *, limit: int, per_service: int, busy: Sequence[uuid.UUID], lease: timedelta
) -> list[Any]:
    """Due callbacks, at most ``per_service`` of any one service and none of the ``busy`` ones (already at their limit
    in this process), leased so no other dispatcher takes them until ``lease`` has passed. The conditional UPDATE
    re-checks the lease after any row lock, so two replicas never claim the same callback."""
    now = func.now()
    ranked = (
        select(
            callback_deliveries.c.id,
            func.row_number()
            .over(
                partition_by=callback_deliveries.c.service_id, order_by=callback_deliveries.c.next_attempt_at
            )
            .label("rank"),
        )
        .where(
            callback_deliveries.c.state == PENDING,
            callback_deliveries.c.next_attempt_at <= now,
            or_(callback_deliveries.c.locked_until.is_(None), callback_deliveries.c.locked_until < now),
            callback_deliveries.c.service_id.not_in(list(busy)) if busy else text("true"),
        )
        .subquery()
    )
    chosen = select(ranked.c.id).where(ranked.c.rank <= per_service).limit(limit).scalar_subquery()
    return list(
        conn.execute(
            update(callback_deliveries)
            .where(
                callback_deliveries.c.id.in_(chosen),
                callback_deliveries.c.state == PENDING,
                or_(callback_deliveries.c.locked_until.is_(None), callback_deliveries.c.locked_until < now),
            )
            .values(locked_until=now + text(f"interval '{int(lease.total_seconds())} seconds'"))
            .returning(
                callback_deliveries.c.id,
                callback_deliveries.c.service_id,
                callback_deliveries.c.callback_type,
                callback_deliveries.c.payload,
                callback_deliveries.c.attempts,
            )
        )
    )


def configuration(conn: Connection, service_id: uuid.UUID, callback_type: str) -> Any:
    """The service's current URL and encrypted token for this type (read at send time), or None."""
    return conn.execute(
        select(service_callback_api.c.url, service_callback_api.c.bearer_token_encrypted).where(
            service_callback_api.c.service_id == service_id,
            service_callback_api.c.callback_type == callback_type,
        )
    ).first()


def record(
    conn: Connection,
    callback_id: uuid.UUID,
    *,
    state: str,
    attempts: int,
    status_code: int | None,
    error: str | None,
    retry_in: timedelta | None = None,
) -> None:
    conn.execute(
        update(callback_deliveries)
        .where(callback_deliveries.c.id == callback_id)
        .values(
            state=state,
            attempts=attempts,
            last_status_code=status_code,
            last_error=error[:200] if error else None,
            locked_until=None,
            next_attempt_at=(datetime.now(UTC) + retry_in)
            if retry_in is not None
            else callback_deliveries.c.next_attempt_at,
            updated_at=datetime.now(UTC),
        )
    )
