"""Failover state in delivery-sms's database: provider priorities and their history, failure counts, receipt times.

Every function works inside the caller's transaction. Rows are locked in name order, so replicas changing
priorities at the same time queue behind each other instead of deadlocking. Times are the database's (``now()``),
so replicas with drifting clocks still agree on what "changed in the last minute" means.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Connection

from ..domain.priorities import Change, DeliveryStats, ProviderPriority
from .tables import priority_history, provider_errors, provider_priorities, receipts, sends

DELIVERED = "delivered"


def database_now(conn: Connection) -> datetime:
    return conn.execute(select(func.now())).scalar_one()  # type: ignore[no-any-return]


def try_lock(conn: Connection, key: int) -> bool:
    """A transaction-scoped advisory lock: True if this transaction now holds ``key``, False if another does."""
    return bool(conn.execute(select(func.pg_try_advisory_xact_lock(key))).scalar_one())


def ensure(conn: Connection, resting: Mapping[str, int]) -> None:
    """Store each configured provider at its resting priority unless it is stored already."""
    t = provider_priorities
    created = conn.execute(
        insert(t)
        .values([{"name": name, "priority": priority} for name, priority in resting.items()])
        .on_conflict_do_nothing(index_elements=["name"])
        .returning(t.c.name, t.c.priority, t.c.active)
    ).all()
    if created:
        conn.execute(
            priority_history.insert(),
            [
                {"provider": r.name, "priority": r.priority, "active": r.active, "reason": "initial"}
                for r in created
            ],
        )


def load(
    conn: Connection, international: Mapping[str, bool], *, lock: bool = False
) -> dict[str, ProviderPriority]:
    """The configured providers (``international``: name -> supports international), locked if ``lock``."""
    t = provider_priorities
    query = select(t).where(t.c.name.in_(list(international))).order_by(t.c.name)
    if lock:
        query = query.with_for_update()
    return {
        row.name: ProviderPriority(
            name=row.name,
            priority=row.priority,
            active=row.active,
            supports_international=international[row.name],
            updated_at=row.updated_at,
        )
        for row in conn.execute(query)
    }


def save(
    conn: Connection,
    providers: Mapping[str, ProviderPriority],
    changes: Sequence[Change],
    *,
    reason: str,
    detail: str | None = None,
) -> None:
    """Apply ``changes`` (to rows the caller has locked) and record each in the history."""
    t = provider_priorities
    for change in changes:
        conn.execute(
            update(t).where(t.c.name == change.name).values(priority=change.priority, updated_at=func.now())
        )
    if changes:
        conn.execute(
            priority_history.insert(),
            [
                {
                    "provider": c.name,
                    "previous_priority": c.previous,
                    "priority": c.priority,
                    "active": providers[c.name].active,
                    "reason": reason,
                    "detail": detail,
                }
                for c in changes
            ],
        )


def set_by_hand(
    conn: Connection, current: ProviderPriority, *, priority: int, active: bool, detail: str | None = None
) -> None:
    """An admin's setting, recorded as ``manual`` even when nothing differs (the request itself is the record)."""
    t = provider_priorities
    conn.execute(
        update(t)
        .where(t.c.name == current.name)
        .values(priority=priority, active=active, updated_at=func.now())
    )
    conn.execute(
        priority_history.insert().values(
            provider=current.name,
            previous_priority=current.priority,
            priority=priority,
            active=active,
            reason="manual",
            detail=detail,
        )
    )


def history(conn: Connection, *, limit: int) -> list[dict[str, Any]]:
    h = priority_history
    rows = conn.execute(select(h).order_by(h.c.id.desc()).limit(limit)).mappings().all()
    return [dict(row) for row in rows]


def add_errors(conn: Connection, provider: str, count: int, *, window: timedelta) -> int:
    """Count ``count`` more failures of ``provider`` now; returns its failures within the last ``window``."""
    t = provider_errors
    stmt = insert(t).values(provider=provider, second=func.date_trunc("second", func.now()), count=count)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["provider", "second"], set_={"count": t.c.count + stmt.excluded.count}
        )
    )
    total = conn.execute(
        select(func.coalesce(func.sum(t.c.count), 0)).where(
            t.c.provider == provider, t.c.second > func.now() - window
        )
    ).scalar_one()
    return int(total)


def forget_errors(conn: Connection, *, older_than: timedelta) -> int:
    t = provider_errors
    return conn.execute(delete(t).where(t.c.second < func.now() - older_than)).rowcount or 0


def record_receipts(conn: Connection, finals: Sequence[tuple[uuid.UUID, str]]) -> None:
    """Remember when the first final receipt of each text arrived (later ones change nothing)."""
    first: dict[uuid.UUID, str] = {}
    for notification_id, status in finals:
        first.setdefault(notification_id, status)
    if first:
        conn.execute(
            insert(receipts).on_conflict_do_nothing(index_elements=["notification_id"]),
            [{"notification_id": nid, "status": status} for nid, status in first.items()],
        )


def delivery_stats(
    conn: Connection, names: Iterable[str], *, created_within: timedelta, slow_after: timedelta
) -> dict[str, DeliveryStats]:
    """Per provider, its texts claimed within ``created_within`` that were delivered or are still awaited, and how
    many of them took (or have been waiting) longer than ``slow_after`` since they were sent.

    Texts that failed are left out: a quick failure says nothing about how fast the provider delivers.
    """
    s, r = sends, receipts
    slow = or_(
        and_(r.c.status == DELIVERED, r.c.received_at - s.c.sent_at > slow_after),
        and_(r.c.notification_id.is_(None), func.now() - s.c.sent_at > slow_after),
    )
    rows = conn.execute(
        select(s.c.provider, func.count().label("total"), func.count().filter(slow).label("slow"))
        .select_from(s.outerjoin(r, r.c.notification_id == s.c.notification_id))
        .where(
            s.c.claimed_at >= func.now() - created_within,
            s.c.state == "sent",
            s.c.sent_at.is_not(None),
            s.c.provider.in_(list(names)),
            or_(r.c.notification_id.is_(None), r.c.status == DELIVERED),
        )
        .group_by(s.c.provider)
    ).all()
    return {row.provider: DeliveryStats(total=row.total, slow=row.slow) for row in rows}
