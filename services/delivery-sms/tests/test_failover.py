"""Failover against real PostgreSQL: failures counted across replicas, the error, slow and drift rules applied under
row locks with their guards, history rows, manual settings, and what the send path and receipts feed in."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from notify_contracts import SmsDeliveryRequestedV1, new_envelope
from notify_delivery_sms.adapters.tables import (
    metadata,
    priority_history,
    provider_errors,
    provider_priorities,
    receipts,
    sends,
)
from notify_delivery_sms.domain.priorities import ProviderPriority, Rules
from notify_delivery_sms.entrypoints.receipts import report_receipts
from notify_delivery_sms.handlers.failover import SLOW_CHECK_LOCK, Failover
from notify_delivery_sms.handlers.send import ProviderPool, SmsSender
from notify_delivery_sms.providers import ProviderError, Receipt
from notify_platform.db import Database
from notify_tools.testing import Infra, scratch_database
from sqlalchemy import func, select, update

pytestmark = pytest.mark.integration

RESTING = {"mmg": 51, "firetext": 49}
INTERNATIONAL = {"mmg": True, "firetext": False}


class FailingProvider:
    def __init__(self, name: str, error: ProviderError) -> None:
        self.name = name
        self.error = error

    async def send(self, **_: Any) -> str:
        raise self.error

    async def lookup(self, notification_id: str) -> str | None:
        return None


@pytest.fixture
def db(infra: Infra) -> Iterator[Database]:
    with scratch_database(infra, metadata, "sms_failover") as database:
        yield database


def replica(db: Database, **rules: Any) -> Failover:
    """A Failover as one consumer process has it (its own pool; the database shared)."""
    pool = ProviderPool({name: object() for name in RESTING}, [])  # type: ignore[misc]
    return Failover(db, pool, resting=RESTING, international=INTERNATIONAL, rules=Rules(**rules))


def priorities(db: Database) -> dict[str, int]:
    with db.engine.connect() as conn:
        return dict(conn.execute(select(provider_priorities.c.name, provider_priorities.c.priority)).all())


def history(db: Database) -> list[tuple[str, int | None, int, str]]:
    h = priority_history
    with db.engine.connect() as conn:
        rows = conn.execute(
            select(h.c.provider, h.c.previous_priority, h.c.priority, h.c.reason).order_by(h.c.id)
        ).all()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def set_priorities(db: Database, *, changed_ago: timedelta | None, **values: int) -> None:
    """Put providers at ``values``, last changed ``changed_ago`` by the database's clock (None: never)."""
    with db.unit_of_work() as conn:
        for name, priority in values.items():
            conn.execute(
                update(provider_priorities)
                .where(provider_priorities.c.name == name)
                .values(
                    priority=priority,
                    updated_at=None if changed_ago is None else func.now() - changed_ago,
                )
            )


def add_text(
    db: Database,
    provider: str,
    *,
    created_ago: timedelta = timedelta(minutes=10),
    took: timedelta | None = timedelta(seconds=5),
    status: str = "delivered",
) -> None:
    """A text sent through ``provider`` at ``created_ago``; its final receipt ``took`` after sending (None: none yet)."""
    nid = uuid.uuid4()
    with db.unit_of_work() as conn:
        conn.execute(
            sends.insert().values(
                notification_id=nid,
                service_id=uuid.uuid4(),
                state="sent",
                provider=provider,
                provider_reference=f"ref-{nid}",
                claimed_at=func.now() - created_ago,
                sent_at=func.now() - created_ago,
            )
        )
        if took is not None:
            conn.execute(
                receipts.insert().values(
                    notification_id=nid, status=status, received_at=func.now() - created_ago + took
                )
            )


async def test_the_first_read_stores_the_resting_points_with_an_initial_history_row(db: Database) -> None:
    failover = replica(db)
    providers = await failover.refresh()
    assert {n: p.priority for n, p in providers.items()} == RESTING
    assert providers["mmg"].supports_international and not providers["firetext"].supports_international
    assert {n: p.priority for n, p in failover.pool.priorities.items()} == RESTING
    await replica(db).refresh()  # a second replica stores nothing more
    assert sorted(history(db)) == [("firetext", None, 49, "initial"), ("mmg", None, 51, "initial")]


async def test_more_than_fifty_failures_within_a_minute_move_ten_points_and_are_recorded(
    db: Database,
) -> None:
    failover = replica(db)
    await failover.refresh()
    assert await failover.count_failures("mmg", 50) == []
    assert priorities(db) == RESTING
    changes = await failover.count_failures("mmg", 1)
    assert {c.name: c.priority for c in changes} == {"mmg": 41, "firetext": 59}
    assert priorities(db) == {"mmg": 41, "firetext": 59}
    assert sorted(history(db)[2:]) == [("firetext", 49, 59, "errors"), ("mmg", 51, 41, "errors")]
    # This process chooses by the new priorities at once.
    assert {n: p.priority for n, p in failover.pool.priorities.items()} == {"mmg": 41, "firetext": 59}


async def test_failures_from_every_replica_add_up(db: Database) -> None:
    other_db = Database(db.url, pool_size=2)
    try:
        first, second = replica(db), replica(other_db)
        assert await first.count_failures("firetext", 30) == []
        assert await second.count_failures("firetext", 21) != []
        assert priorities(db) == {"mmg": 61, "firetext": 39}
    finally:
        other_db.close()


async def test_failures_older_than_the_window_do_not_count(db: Database) -> None:
    await replica(db).refresh()
    with db.unit_of_work() as conn:
        conn.execute(
            provider_errors.insert().values(
                provider="mmg",
                second=func.date_trunc("second", func.now()) - timedelta(seconds=61),
                count=500,
            )
        )
    assert await replica(db).count_failures("mmg", 50) == []
    assert priorities(db) == RESTING


async def test_no_error_shift_within_a_minute_of_the_last_change(db: Database) -> None:
    failover = replica(db)
    await failover.count_failures("mmg", 51)
    assert await failover.count_failures("mmg", 100) == []
    assert priorities(db) == {"mmg": 41, "firetext": 59}
    set_priorities(db, changed_ago=timedelta(seconds=61), mmg=41, firetext=59)
    assert await failover.count_failures("mmg", 1) != []
    assert priorities(db) == {"mmg": 31, "firetext": 69}


async def test_replicas_judging_the_same_burst_at_once_shift_only_once(db: Database) -> None:
    await replica(db).refresh()
    databases = [Database(db.url, pool_size=2) for _ in range(4)]
    try:
        # Something holds both rows while four replicas judge the same burst: each must wait for the rows, and
        # all but the first must then see that the priorities have just changed.
        with db.engine.connect() as holder:
            held = holder.begin()
            holder.execute(select(provider_priorities).with_for_update())
            judging = [asyncio.create_task(replica(d).count_failures("mmg", 60)) for d in databases]
            await asyncio.sleep(0.5)
            held.commit()
            await asyncio.gather(*judging)
        assert priorities(db) == {"mmg": 41, "firetext": 59}
        assert [row[3] for row in history(db)].count("errors") == 2
    finally:
        for d in databases:
            d.close()


async def test_priorities_never_leave_0_to_100(db: Database) -> None:
    failover = replica(db, error_guard=timedelta(0))
    for _ in range(8):
        await failover.count_failures("mmg", 51)
    assert priorities(db) == {"mmg": 0, "firetext": 100}
    # 51 → 41 → 31 → 21 → 11 → 1 → 0, then nothing is left to move.
    errors = [row for row in history(db) if row[3] == "errors"]
    assert len(errors) == 12
    assert sorted(errors[-2:]) == [("firetext", 99, 100, "errors"), ("mmg", 1, 0, "errors")]


async def test_a_slow_provider_loses_ten_points_to_the_other(db: Database) -> None:
    await replica(db).refresh()
    for _ in range(17):
        add_text(db, "mmg")
    for _ in range(3):  # 3 of 20 = 15%
        add_text(db, "mmg", took=timedelta(minutes=5, seconds=1))
    for _ in range(10):
        add_text(db, "firetext")
    changes = await replica(db).check_slow()
    assert {c.name: c.priority for c in changes} == {"mmg": 41, "firetext": 59}
    reasons = [(row[0], row[3]) for row in history(db)[2:]]
    assert sorted(reasons) == [("firetext", "slow"), ("mmg", "slow")]


async def test_texts_still_awaited_beyond_five_minutes_count_as_slow_and_failed_ones_not_at_all(
    db: Database,
) -> None:
    for _ in range(4):
        add_text(db, "firetext")
    add_text(db, "firetext", took=None, created_ago=timedelta(minutes=6))  # 1 of 5 awaited for 6 minutes
    for _ in range(20):  # failures, however late, are left out
        add_text(db, "mmg", took=timedelta(minutes=9), status="permanent-failure")
    add_text(db, "mmg", took=None, created_ago=timedelta(minutes=16))  # before the window
    assert {c.name: c.priority for c in await replica(db).check_slow()} == {"mmg": 61, "firetext": 39}


async def test_nothing_changes_when_both_are_slow(db: Database) -> None:
    for provider in RESTING:
        add_text(db, provider, took=timedelta(minutes=6))
        add_text(db, provider)
    assert await replica(db).check_slow() == []
    assert priorities(db) == RESTING


async def test_no_slow_shift_within_five_minutes_of_a_change(db: Database) -> None:
    await replica(db).refresh()
    add_text(db, "mmg", took=timedelta(minutes=6))
    add_text(db, "firetext")
    set_priorities(db, changed_ago=timedelta(minutes=4), mmg=51)
    assert await replica(db).check_slow() == []
    set_priorities(db, changed_ago=timedelta(minutes=5, seconds=5), mmg=51)
    assert await replica(db).check_slow() != []


async def test_one_replica_at_a_time_runs_the_slow_check(db: Database) -> None:
    await replica(db).refresh()
    add_text(db, "mmg", took=timedelta(minutes=6))
    add_text(db, "firetext")
    with db.engine.connect() as other_replica:
        other_replica.execute(select(func.pg_advisory_lock(SLOW_CHECK_LOCK)))
        assert await replica(db).check_slow() == []
        other_replica.execute(select(func.pg_advisory_unlock(SLOW_CHECK_LOCK)))
    assert await replica(db).check_slow() != []


async def test_after_fifteen_quiet_minutes_priorities_drift_back_ten_points(db: Database) -> None:
    failover = replica(db)
    await failover.refresh()
    set_priorities(db, changed_ago=timedelta(minutes=16), mmg=21, firetext=79)
    assert {c.name: c.priority for c in await failover.drift()} == {"mmg": 31, "firetext": 69}
    assert sorted(history(db)[2:]) == [("firetext", 79, 69, "drift"), ("mmg", 21, 31, "drift")]
    # The drift is a change too: the next one waits another fifteen minutes.
    assert await failover.drift() == []
    set_priorities(db, changed_ago=timedelta(minutes=14), mmg=31, firetext=69)
    assert await failover.drift() == []


async def test_set_by_hand_is_recorded_and_holds_off_the_automatic_rules(db: Database) -> None:
    failover = replica(db)
    updated = await failover.set_by_hand("firetext", priority=80)
    assert updated == ProviderPriority(
        "firetext", 80, active=True, supports_international=False, updated_at=updated.updated_at
    )
    assert history(db)[-1] == ("firetext", 49, 80, "manual")
    assert await failover.count_failures("firetext", 500) == []  # changed within the last minute
    assert priorities(db) == {"mmg": 51, "firetext": 80}
    assert await failover.set_by_hand("nope", priority=1) is None
    await failover.set_by_hand("mmg", priority=51, active=False)
    refreshed = await replica(db).refresh()
    assert refreshed["mmg"].active is False


async def test_failed_sends_are_counted_against_the_provider_but_refusals_of_one_message_are_not(
    db: Database,
) -> None:
    failover = replica(db)

    async def send_through(error: ProviderError) -> None:
        provider = FailingProvider("mmg", error)
        pool = ProviderPool({"mmg": provider}, [ProviderPriority("mmg", 100)])  # type: ignore[dict-item]
        sender = SmsSender(db, pool, on_provider_error=failover.record_failure)
        envelope = new_envelope(
            SmsDeliveryRequestedV1(
                notification_id=uuid.uuid4(),
                service_id=uuid.uuid4(),
                to="447700900123",
                content="Service: hello",
                sender="GOVUK",
                key_type="normal",
                created_at=datetime.now(UTC),
            ),
            producer="test",
            correlation_id="corr",
        )
        try:
            await sender.handle([envelope])
        except ProviderError:
            pass
        await failover.close()

    await send_through(ProviderError("HTTP 500", retryable=True, status_code=500))
    await send_through(ProviderError("timed out", retryable=True))
    await send_through(ProviderError("HTTP 401", retryable=False, status_code=401))
    await send_through(ProviderError("HTTP 400", retryable=False, status_code=400))
    with db.engine.connect() as conn:
        counted = conn.execute(select(func.sum(provider_errors.c.count))).scalar()
    assert counted == 3


def test_the_first_final_receipt_is_kept_for_delivery_times(db: Database) -> None:
    nid = uuid.uuid4()
    with db.unit_of_work() as conn:
        conn.execute(sends.insert().values(notification_id=nid, service_id=uuid.uuid4(), state="sent"))
    for status in ("pending", "delivered", "temporary-failure"):
        with db.unit_of_work() as conn:
            assert report_receipts(conn, [("firetext", Receipt(str(nid), "ref", status))]) != [None]
    with db.engine.connect() as conn:
        assert conn.execute(select(receipts.c.status)).scalars().all() == ["delivered"]
