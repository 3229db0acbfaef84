"""The mailer's connection pool against a real (in-process aiosmtpd) server that counts its connections: many
messages over few connections, transparent reconnection when the server drops one, refusals that leave the
connection usable, and the limits (messages per connection, idle time)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, AuthResult
from notify_delivery_email.adapters.smtp import SmtpError, SmtpMailer


class Server:
    """Counts connections and messages; can refuse the next messages, or drop the connection at MAIL."""

    def __init__(self) -> None:
        self.connections = 0
        self.open: set[SMTP] = set()
        self.received: list[str] = []  # Message-IDs
        self.data_replies: list[str] = []  # answers for the next DATA commands, in order
        self.rcpt_replies: list[str] = []
        self.drop_at_mail = 0  # the next n MAIL commands close the connection instead of answering
        self.mail_replies: list[str] = []  # answers for the next MAIL commands, in order
        self.quits = 0
        self.logins: list[tuple[str, str]] = []  # (username, password) of each AUTH
        self.stall_data = 0.0  # seconds the next DATA waits before answering

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        self.logins.append((data.login.decode(), data.password.decode()))
        return AuthResult(success=True)

    def protocol(self) -> SMTP:
        server = self

        class Counting(SMTP):
            def connection_made(self, transport: Any) -> None:
                server.connections += 1
                server.open.add(self)
                super().connection_made(transport)

            def connection_lost(self, error: Exception | None) -> None:
                server.open.discard(self)
                super().connection_lost(error)

        return Counting(self, hostname="pool-test", authenticator=self.authenticate, auth_require_tls=False)

    async def handle_MAIL(self, server: SMTP, session: Any, envelope: Any, address: str, options: Any) -> str:
        if self.drop_at_mail > 0:
            self.drop_at_mail -= 1
            assert server.transport is not None
            server.transport.close()
            return "421 going away"  # never reaches the client: the connection is already closed
        if self.mail_replies:
            return self.mail_replies.pop(0)
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server: SMTP, session: Any, envelope: Any, address: str, options: Any) -> str:
        if self.rcpt_replies:
            return self.rcpt_replies.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Any, envelope: Any) -> str:
        if self.stall_data:
            stall, self.stall_data = self.stall_data, 0.0
            await asyncio.sleep(stall)
        if self.data_replies:
            return self.data_replies.pop(0)
        for line in envelope.original_content.splitlines():
            if line.lower().startswith(b"message-id:"):
                self.received.append(line.split(b":", 1)[1].strip().decode())
        return "250 OK"

    async def handle_QUIT(self, server: SMTP, session: Any, envelope: Any) -> str:
        self.quits += 1
        return "221 Bye"

    def drop_every_connection(self) -> None:
        for protocol in list(self.open):
            assert protocol.transport is not None
            protocol.transport.close()


@pytest.fixture
async def server() -> AsyncIterator[tuple[Server, int]]:
    srv = Server()
    listener = await asyncio.get_running_loop().create_server(srv.protocol, "127.0.0.1", 0)
    try:
        yield srv, listener.sockets[0].getsockname()[1]
    finally:
        listener.close()
        srv.drop_every_connection()
        await listener.wait_closed()


def _message() -> EmailMessage:
    message = EmailMessage()
    message["From"] = "service@notifications.example"
    message["To"] = "someone@example.com"
    message["Subject"] = "Hello"
    message["Message-ID"] = f"<{uuid.uuid4()}@notifications.example>"
    message.set_content("text")
    return message


async def _settle() -> None:
    """Let connection closes reach the other side."""
    for _ in range(5):
        await asyncio.sleep(0.01)


async def test_many_messages_travel_over_few_connections(server: Any) -> None:
    srv, port = server
    mailer = SmtpMailer("127.0.0.1", port, timeout=5, pool_size=3)
    messages = [_message() for _ in range(60)]
    await asyncio.gather(*(mailer.send(m) for m in messages))
    for _ in range(10):  # one after another: always the same connection
        await mailer.send(_message())
    assert len(srv.received) == 70
    assert sorted(srv.received[:60]) == sorted(str(m["Message-ID"]) for m in messages)
    assert srv.connections == mailer.opened <= 3
    await mailer.aclose()
    await _settle()
    assert srv.open == set() and srv.quits == srv.connections


async def test_login_happens_once_per_connection(server: Any) -> None:
    srv, port = server
    mailer = SmtpMailer("127.0.0.1", port, username="relay-user", password="s3cret", timeout=5, pool_size=2)
    await asyncio.gather(*(mailer.send(_message()) for _ in range(20)))
    assert len(srv.received) == 20
    assert srv.logins == [("relay-user", "s3cret")] * srv.connections
    assert srv.connections <= 2
    await mailer.aclose()


async def test_a_connection_the_server_closed_is_replaced(server: Any) -> None:
    srv, port = server
    mailer = SmtpMailer("127.0.0.1", port, timeout=5)
    await mailer.send(_message())
    srv.drop_every_connection()
    await _settle()
    await mailer.send(_message())
    assert len(srv.received) == 2 and srv.connections == 2
    await mailer.aclose()


async def test_a_connection_dropped_mid_way_is_retried_once_on_a_new_one(server: Any) -> None:
    srv, port = server
    mailer = SmtpMailer("127.0.0.1", port, timeout=5)
    await mailer.send(_message())
    srv.drop_at_mail = 1  # the pooled connection dies under the next message
    second = _message()
    await mailer.send(second)
    assert srv.received[-1] == second["Message-ID"]
    assert srv.connections == 2
    # A new connection that fails is not retried: the consumer's retry takes it.
    srv.drop_at_mail = 3
    with pytest.raises(SmtpError) as caught:
        await mailer.send(_message())  # the pooled connection, then a new one: both dropped
    assert caught.value.retryable
    assert srv.drop_at_mail == 1 and srv.connections == 3  # no third attempt
    srv.drop_at_mail = 0
    await mailer.send(_message())  # and the next message goes through on yet another connection
    assert len(srv.received) == 3 and srv.connections == 4
    await mailer.aclose()


@pytest.mark.parametrize(
    ("reply", "retryable"), [("451 4.3.0 Try again later", True), ("554 5.7.1 Rejected", False)]
)
async def test_a_refused_message_leaves_the_connection_usable(
    server: Any, reply: str, retryable: bool
) -> None:
    srv, port = server
    mailer = SmtpMailer("127.0.0.1", port, timeout=5)
    srv.data_replies = [reply]
    with pytest.raises(SmtpError) as caught:
        await mailer.send(_message())
    assert (caught.value.retryable, caught.value.code) == (retryable, int(reply[:3]))
    srv.rcpt_replies = ["550 5.1.1 No such user"]
    with pytest.raises(SmtpError) as refused:
        await mailer.send(_message())
    assert (refused.value.retryable, refused.value.code) == (False, 550)
    assert str(refused.value) == "recipient refused (550)"
    await mailer.send(_message())
    assert len(srv.received) == 1 and srv.connections == 1
    await mailer.aclose()


async def test_a_421_reply_closes_the_connection_and_the_next_message_opens_another(server: Any) -> None:
    srv, port = server
    mailer = SmtpMailer("127.0.0.1", port, timeout=5)
    srv.data_replies = ["421 4.3.2 Shutting down"]
    with pytest.raises(SmtpError) as caught:
        await mailer.send(_message())
    assert caught.value.retryable and caught.value.code == 421
    await mailer.send(_message())
    assert len(srv.received) == 1 and srv.connections == 2
    await mailer.aclose()


async def test_a_pooled_connection_the_server_is_closing_is_replaced_at_once(server: Any) -> None:
    srv, port = server
    mailer = SmtpMailer("127.0.0.1", port, timeout=5)
    await mailer.send(_message())
    srv.mail_replies = ["421 4.4.2 Timeout exceeded"]  # e.g. the relay's idle timeout, just as it is reused
    await mailer.send(_message())
    assert len(srv.received) == 2 and srv.connections == 2
    srv.mail_replies = ["421 4.4.2 Timeout exceeded"] * 2  # a new connection answering 421: not tried again
    with pytest.raises(SmtpError) as caught:
        await mailer.send(_message())
    assert (caught.value.retryable, caught.value.code) == (True, 421)
    assert srv.connections == 3 and srv.mail_replies == []
    await mailer.aclose()


async def test_connections_are_renewed_after_max_messages(server: Any) -> None:
    srv, port = server
    mailer = SmtpMailer("127.0.0.1", port, timeout=5, max_messages=5)
    for _ in range(12):
        await mailer.send(_message())
    assert len(srv.received) == 12 and srv.connections == 3
    await _settle()
    assert len(srv.open) == 1 and srv.quits == 2  # the used-up ones were closed politely
    await mailer.aclose()


async def test_idle_connections_are_closed(server: Any) -> None:
    srv, port = server
    mailer = SmtpMailer("127.0.0.1", port, timeout=5, idle_seconds=0.1)
    await mailer.send(_message())
    assert len(srv.open) == 1
    await asyncio.sleep(0.3)
    await _settle()
    assert srv.open == set() and srv.quits == 1
    await mailer.send(_message())
    assert len(srv.received) == 2 and srv.connections == 2
    await mailer.aclose()


async def test_each_send_is_counted_by_outcome_and_timed(server: Any) -> None:
    from prometheus_client import REGISTRY

    srv, port = server
    name = f"smtp-{uuid.uuid4().hex[:8]}"  # labels of this test's own

    def calls(outcome: str) -> float:
        return (
            REGISTRY.get_sample_value("notify_provider_calls_total", {"provider": name, "outcome": outcome})
            or 0
        )

    mailer = SmtpMailer("127.0.0.1", port, timeout=0.3, name=name)
    await mailer.send(_message())
    srv.data_replies = ["554 5.7.1 Rejected", "451 4.3.0 Try again later"]
    for retryable in (False, True):
        with pytest.raises(SmtpError) as caught:
            await mailer.send(_message())
        assert caught.value.retryable is retryable
    srv.stall_data = 1.0
    with pytest.raises(SmtpError) as stalled:
        await mailer.send(_message())
    assert stalled.value.retryable
    await mailer.aclose()
    assert [calls(o) for o in ("ok", "rejected", "error", "timeout")] == [1, 1, 1, 1]
    assert REGISTRY.get_sample_value("notify_provider_call_seconds_count", {"provider": name}) == 4
