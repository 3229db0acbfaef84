"""The table of callbacks to send: queued in the transaction of what they report, claimed by the dispatcher with a
lease, and their outcome recorded. Ops replay the exhausted ones (``notifyctl replay-callbacks``, in notify_tools)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, text, tuple_, update
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


def configured(conn: Connection, wanted: Iterable[tuple[uuid.UUID, str]]) -> set[tuple[uuid.UUID, str]]:
    """Which of these (service, callback type) pairs the services have configured."""
    pairs = list(set(wanted))
    if not pairs:
        return set()
    c = service_callback_api.c
    return {
        (row.service_id, row.callback_type)
        for row in conn.execute(
            select(c.service_id, c.callback_type).where(tuple_(c.service_id, c.callback_type).in_(pairs))
        )
    }


def enqueue(
    conn: Connection, callbacks: Iterable[Callback], *, known: set[tuple[uuid.UUID, str]] | None = None
) -> int:
    """Queue each callback whose service has configured its type (the rest are not owed), once per dedupe key.
    ``known``: the configured pairs, when the caller looked them up already. Returns how many were queued."""
    wanted = list(callbacks)
    if not wanted:
        return 0
    if known is None:
        known = configured(conn, ((c.service_id, c.callback_type) for c in wanted))
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
        if (c.service_id, c.callback_type) in known
    }
    if not rows:
        return 0
    return len(conn.execute(_INSERT, list(rows.values())).all())


_CLAIM = text(
    """
    WITH leased AS (
        SELECT service_id, count(*) AS n FROM callback_deliveries
        WHERE state = 'pending' AND locked_until > now() GROUP BY service_id
    ), ranked AS (
        SELECT c.id, c.service_id, c.callback_type, c.next_attempt_at,
               row_number() OVER (PARTITION BY c.service_id ORDER BY c.next_attempt_at) + coalesce(l.n, 0) AS slot
        FROM callback_deliveries c LEFT JOIN leased l ON l.service_id = c.service_id
        WHERE c.state = 'pending' AND c.next_attempt_at <= now()
          AND (c.locked_until IS NULL OR c.locked_until <= now())
    ), chosen AS (
        SELECT id, service_id, callback_type FROM ranked
        WHERE slot <= :per_service ORDER BY slot, next_attempt_at LIMIT :limit
    )
    UPDATE callback_deliveries c SET locked_until = now() + make_interval(secs => :lease)
    FROM chosen LEFT JOIN service_callback_api s
        ON s.service_id = chosen.service_id AND s.callback_type = chosen.callback_type
    WHERE c.id = chosen.id AND c.state = 'pending' AND (c.locked_until IS NULL OR c.locked_until <= now())
    RETURNING c.id, c.service_id, c.callback_type, c.payload, c.attempts, c.locked_until,
        s.url, s.bearer_token_encrypted
    """
)


def claim(conn: Connection, *, limit: int, per_service: int, lease: timedelta) -> list[Any]:
    """Due callbacks with the service's current URL and encrypted token for their type (None: no longer
    configured), leased so no other dispatcher takes them until ``lease`` has passed, with at most
    ``per_service`` of one service leased at a time across every replica (those already leased count), and the
    services taking turns (each one's first due callback before any one's second). The conditional UPDATE re-checks
    the lease after any row lock, so two replicas never claim the same callback."""
    return list(
        conn.execute(_CLAIM, {"per_service": per_service, "limit": limit, "lease": lease.total_seconds()})
    )


def record(
    conn: Connection,
    row: Any,
    *,
    state: str,
    attempts: int,
    status_code: int | None,
    error: str | None,
    retry_in: timedelta | None = None,
) -> bool:
    """The outcome of an attempt on a claimed row, if this dispatcher still holds its lease (else another has taken
    it over and its outcome wins: False). A callback that ended (delivered, or failed for good) keeps no payload:
    the recipient and content it carried are not kept twice; an exhausted one keeps it for replay."""
    values: dict[str, Any] = {
        "state": state,
        "attempts": attempts,
        "last_status_code": status_code,
        "last_error": error[:200] if error else None,
        "locked_until": None,
        "updated_at": datetime.now(UTC),
    }
    if retry_in is not None:
        values["next_attempt_at"] = datetime.now(UTC) + retry_in
    if state in (DELIVERED, FAILED):
        values["payload"] = {}
    result = conn.execute(
        update(callback_deliveries)
        .where(callback_deliveries.c.id == row.id, callback_deliveries.c.locked_until == row.locked_until)
        .values(**values)
    )
    return bool(result.rowcount)
