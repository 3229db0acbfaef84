"""delivery-email sends each notification exactly once through a real (in-process aiosmtpd) SMTP server, against
real PostgreSQL."""

from __future__ import annotations

import asyncio
import email
import email.policy
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from notify_contracts import EmailDeliveryRequestedV1, decode, new_envelope
from notify_delivery_email.adapters.smtp import SmtpError, SmtpMailer
from notify_delivery_email.adapters.tables import metadata, outbox, sends
from notify_delivery_email.handlers.send import EmailSender, give_up
from notify_delivery_email.sink.app import start_smtp
from notify_platform.db import Database
from notify_tools.testing import Infra, scratch_database
from sqlalchemy import select

pytestmark = pytest.mark.integration


class RecordingHandler:
    """An aiosmtpd handler that keeps what it receives, or answers every DATA with ``reply``."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], email.message.EmailMessage]] = []
        self.reply: str | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.reply:
            return self.reply
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        self.received.append((list(envelope.rcpt_tos), message))
        return "250 OK"


@pytest.fixture
def db(infra: Infra) -> Iterator[Database]:
    with scratch_database(infra, metadata, "email") as database:
        yield database


@pytest.fixture
async def smtp() -> AsyncIterator[tuple[RecordingHandler, SmtpMailer]]:
    handler = RecordingHandler()
    server = await start_smtp(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield handler, SmtpMailer("127.0.0.1", port, timeout=5)
    finally:
        server.close()
        await server.wait_closed()


def _request(key_type: str = "normal", to: str = "someone@example.com", **extra: Any) -> Any:
    payload = EmailDeliveryRequestedV1(
        notification_id=uuid.uuid4(),
        service_id=uuid.uuid4(),
        to=to,
        subject="Your parcel is ready",
        body="# Hello Ada\n\nYour parcel is ready: https://www.gov.uk/parcel\n\n* Bring ID\n* Bring your reference",
        from_address="demo.service@notifications.example",
        key_type=key_type,
        created_at=datetime.now(UTC),
        **extra,
    )
    return new_envelope(payload, producer="test", correlation_id="corr-1")


def _reports(db: Database) -> list[tuple[str, str]]:
    with db.engine.connect() as conn:
        events = [
            decode(bytes(b)) for b in conn.execute(select(outbox.c.body).order_by(outbox.c.id)).scalars()
        ]
    return [(str(e.payload.notification_id), e.payload.status) for e in events]


def _row(db: Database, env: Any) -> Any:
    with db.engine.connect() as conn:
        return conn.execute(select(sends).where(sends.c.notification_id == env.payload.notification_id)).one()


async def test_each_notification_is_sent_once_even_when_redelivered(db: Database, smtp: Any) -> None:
    handler, mailer = smtp
    sender = EmailSender(db, mailer)
    first, second = _request(), _request()
    assert await sender.handle([first, second, first]) == 2
    assert await sender.handle([first, second]) == 0
    ids = sorted(str(m["Message-ID"]) for _, m in handler.received)
    assert ids == sorted(f"<{e.payload.notification_id}@notifications.example>" for e in (first, second))
    assert sorted(_reports(db)) == sorted(
        [(str(first.payload.notification_id), "sending"), (str(second.payload.notification_id), "sending")]
    )
    row = _row(db, first)
    assert row.state == "sent"
    assert row.provider_reference == f"<{first.payload.notification_id}@notifications.example>"
    assert row.correlation_id == "corr-1"


async def test_a_claim_left_by_a_crash_is_resent_with_the_same_message_id(db: Database, smtp: Any) -> None:
    handler, mailer = smtp
    sender = EmailSender(db, mailer)
    env = _request()
    with db.unit_of_work() as conn:
        conn.execute(
            sends.insert().values(
                notification_id=env.payload.notification_id,
                service_id=env.payload.service_id,
                state="claimed",
            )
        )
    assert await sender.handle([env]) == 1
    ((_, message),) = handler.received
    assert message["Message-ID"] == f"<{env.payload.notification_id}@notifications.example>"
    assert _row(db, env).state == "sent"


async def test_the_message_has_both_parts_and_the_headers(db: Database, smtp: Any) -> None:
    handler, mailer = smtp
    env = _request(reply_to="reply@example.com", one_click_unsubscribe_url="https://unsub.example/abc?x=1")
    await EmailSender(db, mailer).handle([env])
    ((rcpts, message),) = handler.received
    assert rcpts == ["someone@example.com"]
    assert message["From"] == "demo.service@notifications.example"
    assert message["To"] == "someone@example.com"
    assert message["Subject"] == "Your parcel is ready"
    assert message["Reply-To"] == "reply@example.com"
    assert message["Message-ID"] == f"<{env.payload.notification_id}@notifications.example>"
    assert message["List-Unsubscribe"] == "<https://unsub.example/abc?x=1>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "Hello Ada" in text and "Bring ID" in text and "<" not in text
    assert "<h2" in html and "Hello Ada</h2>" in html
    assert 'href="https://www.gov.uk/parcel"' in html
    assert "<li" in html and "Bring ID" in html
    assert "<title>Your parcel is ready</title>" in html


async def test_no_unsubscribe_headers_without_a_url(db: Database, smtp: Any) -> None:
    handler, mailer = smtp
    await EmailSender(db, mailer).handle([_request()])
    ((_, message),) = handler.received
    assert message["List-Unsubscribe"] is None
    assert message["List-Unsubscribe-Post"] is None
    assert message["Reply-To"] is None


@pytest.mark.parametrize(
    ("to", "final"),
    [
        ("temp-fail@simulator.notify", "temporary-failure"),
        ("perm-fail@simulator.notify", "permanent-failure"),
        ("anyone@example.com", "delivered"),
    ],
)
async def test_test_keys_never_reach_smtp(db: Database, smtp: Any, to: str, final: str) -> None:
    handler, mailer = smtp
    env = _request(key_type="test", to=to)
    await EmailSender(db, mailer).handle([env])
    assert handler.received == []
    nid = str(env.payload.notification_id)
    assert _reports(db) == [(nid, "sending"), (nid, final)]


async def test_a_permanent_smtp_refusal_ends_in_technical_failure(db: Database, smtp: Any) -> None:
    handler, mailer = smtp
    handler.reply = "554 Transaction failed"
    env = _request()
    assert await EmailSender(db, mailer).handle([env]) == 1
    assert _row(db, env).state == "failed"
    assert _reports(db) == [(str(env.payload.notification_id), "technical-failure")]


async def test_a_temporary_smtp_refusal_raises_for_a_retry_and_leaves_the_claim(
    db: Database, smtp: Any
) -> None:
    handler, mailer = smtp
    handler.reply = "451 Try again later"
    env = _request()
    with pytest.raises(SmtpError) as caught:
        await EmailSender(db, mailer).handle([env])
    assert caught.value.retryable and caught.value.code == 451
    assert _row(db, env).state == "claimed"
    assert _reports(db) == []
    # The retry (after the delay queue) sends it.
    handler.reply = None
    assert await EmailSender(db, mailer).handle([env]) == 1
    assert len(handler.received) == 1


async def test_connection_errors_are_retryable(db: Database) -> None:
    server = await asyncio.get_running_loop().create_server(asyncio.Protocol, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    env = _request()
    with pytest.raises(SmtpError) as caught:
        await EmailSender(db, SmtpMailer("127.0.0.1", port, timeout=2)).handle([env])
    assert caught.value.retryable
    assert _row(db, env).state == "claimed"


async def test_giving_up_after_the_last_retry_ends_in_technical_failure_unless_sent(
    db: Database, smtp: Any
) -> None:
    env = _request()
    await give_up(db, env, "SmtpError: SMTP 451")
    assert _reports(db) == [(str(env.payload.notification_id), "technical-failure")]
    assert _row(db, env).state == "failed"

    _, mailer = smtp
    sent = _request()
    await EmailSender(db, mailer).handle([sent])
    await give_up(db, sent, "late")
    assert (str(sent.payload.notification_id), "technical-failure") not in _reports(db)
