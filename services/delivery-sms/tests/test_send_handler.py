"""delivery-sms sends each notification exactly once, whatever is redelivered or crashed, against real PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from notify_contracts import SmsDeliveryRequestedV1, decode, new_envelope
from notify_delivery_sms.adapters.tables import metadata, outbox, sends
from notify_delivery_sms.domain.priorities import ProviderPriority
from notify_delivery_sms.handlers.send import ProviderPool, SmsSender, give_up
from notify_delivery_sms.providers import ProviderError
from notify_platform.db import Database
from notify_tools.testing import Infra, scratch_database
from sqlalchemy import select

pytestmark = pytest.mark.integration


class FakeProvider:
    """Records sends; can fail, and can pretend it already holds a message (a crash after the send)."""

    def __init__(self, name: str, *, error: ProviderError | None = None) -> None:
        self.name = name
        self.error = error
        self.sent: list[str] = []
        self.known: dict[str, str] = {}

    async def send(
        self, *, to: str, content: str, sender: str, notification_id: str, international: bool
    ) -> str:
        if self.error is not None:
            raise self.error
        self.sent.append(notification_id)
        self.known[notification_id] = f"{self.name}-{len(self.sent)}"
        return self.known[notification_id]

    async def lookup(self, notification_id: str) -> str | None:
        return self.known.get(notification_id)


def only(provider: FakeProvider) -> ProviderPool:
    """A pool with one active provider (it gets every text)."""
    return ProviderPool({provider.name: provider}, [ProviderPriority(provider.name, 100)])  # type: ignore[dict-item]


@pytest.fixture
def db(infra: Infra) -> Iterator[Database]:
    with scratch_database(infra, metadata, "sms") as database:
        yield database


def _request(key_type: str = "normal", to: str = "447700900123") -> Any:
    payload = SmsDeliveryRequestedV1(
        notification_id=uuid.uuid4(),
        service_id=uuid.uuid4(),
        to=to,
        content="Service: hello",
        sender="GOVUK",
        key_type=key_type,
        created_at=datetime.now(UTC),
    )
    return new_envelope(payload, producer="test", correlation_id="corr-1")


def _reports(db: Database) -> list[tuple[str, str]]:
    with db.engine.connect() as conn:
        events = [
            decode(bytes(b)) for b in conn.execute(select(outbox.c.body).order_by(outbox.c.id)).scalars()
        ]
    return [(str(e.payload.notification_id), e.payload.status) for e in events]


def _state(db: Database, env: Any) -> str:
    with db.engine.connect() as conn:
        return str(
            conn.execute(
                select(sends.c.state).where(sends.c.notification_id == env.payload.notification_id)
            ).scalar_one()
        )


async def test_each_notification_is_sent_once_even_when_redelivered(db: Database) -> None:
    provider = FakeProvider("mmg")
    sender = SmsSender(db, only(provider))
    first, second = _request(), _request()
    assert await sender.handle([first, second, first]) == 2
    assert await sender.handle([first, second]) == 0
    assert sorted(provider.sent) == sorted(
        [str(first.payload.notification_id), str(second.payload.notification_id)]
    )
    assert sorted(_reports(db)) == sorted(
        [(str(first.payload.notification_id), "sending"), (str(second.payload.notification_id), "sending")]
    )
    assert _state(db, first) == "sent"


async def test_a_claim_left_by_a_crash_is_resolved_at_the_provider_not_sent_again(db: Database) -> None:
    provider = FakeProvider("mmg")
    sender = SmsSender(db, only(provider))
    env = _request()
    nid = str(env.payload.notification_id)
    # Simulate a crash after the provider accepted the message but before the ledger recorded it.
    with db.unit_of_work() as conn:
        conn.execute(
            sends.insert().values(
                notification_id=env.payload.notification_id,
                service_id=env.payload.service_id,
                state="claimed",
            )
        )
    provider.known[nid] = "mmg-before-crash"
    assert await sender.handle([env]) == 1
    assert provider.sent == []
    assert _reports(db) == [(nid, "sending")]
    assert _state(db, env) == "sent"


async def test_test_keys_never_reach_a_provider(db: Database) -> None:
    provider = FakeProvider("mmg")
    sender = SmsSender(db, only(provider))
    env = _request(key_type="test", to="447700900003")
    await sender.handle([env])
    assert provider.sent == []
    nid = str(env.payload.notification_id)
    assert _reports(db) == [(nid, "sending"), (nid, "temporary-failure")]


async def test_retryable_errors_raise_for_a_retry_and_leave_the_claim(db: Database) -> None:
    provider = FakeProvider("mmg", error=ProviderError("timeout", retryable=True))
    sender = SmsSender(db, only(provider))
    env = _request()
    with pytest.raises(ProviderError):
        await sender.handle([env])
    assert _state(db, env) == "claimed"
    assert _reports(db) == []


async def test_a_refusal_ends_in_technical_failure(db: Database) -> None:
    provider = FakeProvider("mmg", error=ProviderError("bad request", retryable=False))
    sender = SmsSender(db, only(provider))
    env = _request()
    await sender.handle([env])
    assert _state(db, env) == "failed"
    assert _reports(db) == [(str(env.payload.notification_id), "technical-failure")]


async def test_giving_up_after_the_last_retry_ends_in_technical_failure_unless_sent(db: Database) -> None:
    env = _request()
    await give_up(db, env, "ProviderError: timeout")
    assert _reports(db) == [(str(env.payload.notification_id), "technical-failure")]
    assert _state(db, env) == "failed"

    sent = _request()
    await SmsSender(db, only(FakeProvider("mmg"))).handle([sent])
    await give_up(db, sent, "late")
    assert (str(sent.payload.notification_id), "technical-failure") not in _reports(db)
