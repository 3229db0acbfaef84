"""``notifyctl``'s broker and database commands against real RabbitMQ and PostgreSQL: the consumer queues declared
as ``make migrate`` declares them, in a vhost of their own (so nothing here reaches the integration stack's
consumers), dead letters put there, and the counts read back after each command. The admin-API commands are
tested against a running stack in tests/integration/test_notifyctl.py."""

from __future__ import annotations

import asyncio
import importlib
import io
import json
import secrets
import socket
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import aio_pika
import pytest
from notify_platform.broker import Broker
from notify_platform.consumer import declare_queues
from notify_tools import notifyctl
from notify_tools.stack import MIGRATING
from notify_tools.testing import Infra, _vhost_admin, _with_vhost

pytestmark = pytest.mark.integration

ALL_QUEUES = {
    queue: patterns
    for module in MIGRATING
    for queue, patterns in importlib.import_module(f"{module}.bootstrap").QUEUES.items()
}
# Left undeclared, to be shown as missing; and one whose dead-letter queue is removed.
UNDECLARED = "delivery-letter.cancelled"
NO_DLQ = "delivery-email.requested"


@pytest.fixture(scope="module")
def amqp_url(infra: Infra) -> Iterator[str]:
    """A vhost of this module's own, with every consumer queue but one declared as the migrate roles do."""
    server = urlparse(infra.amqp_url)._replace(path="/").geturl()
    vhost = f"notify-test-{infra.run_id}-ctl-{secrets.token_hex(3)}"
    _vhost_admin(server, vhost, create=True)
    url = _with_vhost(server, vhost)

    async def declare() -> None:
        broker = Broker(url, exchange_name="notify", producer="test")
        await broker.connect(attempts=3)
        try:
            await declare_queues(broker, {q: p for q, p in ALL_QUEUES.items() if q != UNDECLARED})
            channel = await broker.channel(prefetch=1)
            await channel.queue_delete(f"{NO_DLQ}.dlq")
            await channel.close()
        finally:
            await broker.close()

    asyncio.run(declare())
    try:
        yield url
    finally:
        _vhost_admin(server, vhost, create=False)


async def _with_channel(url: str, work: Any) -> Any:
    connection = await aio_pika.connect(url)
    try:
        async with connection.channel() as channel:
            return await work(channel)
    finally:
        await connection.close()


def put(url: str, queue: str, count: int) -> None:
    async def work(channel: aio_pika.abc.AbstractChannel) -> None:
        for i in range(count):
            message = aio_pika.Message(
                f'{{"n": {i}}}'.encode(), message_id=str(uuid.uuid4()), headers={"x-death-reason": "test"}
            )
            await channel.default_exchange.publish(message, routing_key=queue)

    asyncio.run(_with_channel(url, work))


def depth(url: str, queue: str) -> int | None:
    async def work(channel: aio_pika.abc.AbstractChannel) -> int | None:
        try:
            declared = await channel.declare_queue(queue, passive=True)
        except aio_pika.exceptions.ChannelNotFoundEntity:
            return None
        return int(declared.declaration_result.message_count or 0)

    return asyncio.run(_with_channel(url, work))


def drain(url: str, queue: str) -> list[aio_pika.abc.AbstractIncomingMessage]:
    async def work(channel: aio_pika.abc.AbstractChannel) -> list[Any]:
        declared = await channel.declare_queue(queue, passive=True)
        found = []
        while (message := await declared.get(no_ack=True, fail=False)) is not None:
            found.append(message)
        return found

    return asyncio.run(_with_channel(url, work))


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        notifyctl.main(list(argv))
    captured = capsys.readouterr()
    return int(exited.value.code or 0), captured.out, captured.err


def one_line_error(err: str) -> str:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_queues_listed_are_every_queue_the_services_declare() -> None:
    found = notifyctl.declared_queues()
    assert found.keys() == ALL_QUEUES.keys()
    assert found["notifications.requested"] == "notify_notifications"
    assert found["jobs.status-changed"] == "notify_jobs"


def test_queues_shows_ready_messages_consumers_dead_letters_and_missing_queues(
    amqp_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    put(amqp_url, "jobs.status-changed", 2)
    put(amqp_url, "jobs.status-changed.dlq", 3)
    try:
        status, out, _ = run(capsys, "queues", "--json", "--amqp-url", amqp_url)
        assert status == 0
        rows = {row["queue"]: row for row in json.loads(out)}
        assert rows.keys() == ALL_QUEUES.keys()
        assert rows["jobs.status-changed"] == {
            "queue": "jobs.status-changed",
            "service": "notify_jobs",
            "exists": True,
            "ready": 2,
            "consumers": 0,
            "dead_letters": 3,
        }
        assert rows["notifications.requested"]["ready"] == 0
        assert rows["notifications.requested"]["dead_letters"] == 0
        assert rows[UNDECLARED] == {
            "queue": UNDECLARED,
            "service": "notify_delivery_letter",
            "exists": False,
            "ready": None,
            "consumers": None,
            "dead_letters": None,
        }
        assert (rows[NO_DLQ]["exists"], rows[NO_DLQ]["dead_letters"]) == (True, None)

        status, out, _ = run(capsys, "queues", "--amqp-url", amqp_url)
        assert status == 0
        table = {line.split()[0]: line.split()[1:] for line in out.strip().splitlines()[1:]}
        assert table["jobs.status-changed"] == ["notify_jobs", "2", "0", "3"]
        assert table[UNDECLARED] == ["notify_delivery_letter", "missing", "-", "missing"]
        assert table[NO_DLQ] == ["notify_delivery_email", "0", "0", "missing"]
        # Looking never declared anything.
        assert depth(amqp_url, UNDECLARED) is None
        assert depth(amqp_url, f"{NO_DLQ}.dlq") is None
    finally:
        drain(amqp_url, "jobs.status-changed")
        drain(amqp_url, "jobs.status-changed.dlq")


def test_replay_dlq_moves_dead_letters_back_up_to_the_limit(
    amqp_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    queue = "notifications.callbacks"
    put(amqp_url, f"{queue}.dlq", 3)
    try:
        status, out, _ = run(capsys, "replay-dlq", queue, "--limit", "2", "--amqp-url", amqp_url)
        assert (status, out.strip()) == (0, f"replayed 2 message(s) onto {queue}")
        assert (depth(amqp_url, queue), depth(amqp_url, f"{queue}.dlq")) == (2, 1)

        # A dead-letter queue's own name is taken to mean its queue.
        status, out, _ = run(capsys, "replay-dlq", f"{queue}.dlq", "--amqp-url", amqp_url)
        assert (status, out.strip()) == (0, f"replayed 1 message(s) onto {queue}")
        assert (depth(amqp_url, queue), depth(amqp_url, f"{queue}.dlq")) == (3, 0)
        replayed = drain(amqp_url, queue)
        assert sorted(m.body for m in replayed) == [b'{"n": 0}', b'{"n": 1}', b'{"n": 2}']
        assert all("x-death-reason" not in (m.headers or {}) for m in replayed)
        assert all((m.headers or {}).get("x-replayed") for m in replayed)
    finally:
        drain(amqp_url, queue)
        drain(amqp_url, f"{queue}.dlq")


def test_replay_dlq_refuses_an_unknown_queue_and_declares_nothing(
    amqp_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(capsys, "replay-dlq", "notifications.requestd", "--amqp-url", amqp_url)
    assert status == 1 and out == ""
    line = one_line_error(err)
    assert line.startswith("notifyctl replay-dlq: unknown queue 'notifications.requestd'")
    assert "notifications.requested" in line  # the names it could have meant
    assert depth(amqp_url, "notifications.requestd.dlq") is None
    assert depth(amqp_url, "notifications.requestd") is None

    # A queue the code declares but the broker lacks: refused too, still declaring nothing.
    status, _, err = run(capsys, "replay-dlq", NO_DLQ, "--amqp-url", amqp_url)
    assert status == 1
    assert f"{NO_DLQ}.dlq" in one_line_error(err)
    assert depth(amqp_url, f"{NO_DLQ}.dlq") is None


def test_purge_dlq_asks_first_and_says_how_many_it_removed(
    amqp_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    queue = "delivery-sms.requested"
    put(amqp_url, f"{queue}.dlq", 4)
    put(amqp_url, queue, 1)
    try:
        monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
        status, out, err = run(capsys, "purge-dlq", queue, "--amqp-url", amqp_url)
        assert status == 1
        assert "Remove 4 dead letter(s)" in out
        assert "nothing removed" in err
        assert depth(amqp_url, f"{queue}.dlq") == 4

        monkeypatch.setattr("sys.stdin", io.StringIO(""))  # no terminal to answer: nothing removed
        status, _, _ = run(capsys, "purge-dlq", queue, "--amqp-url", amqp_url)
        assert status == 1 and depth(amqp_url, f"{queue}.dlq") == 4

        monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
        status, out, _ = run(capsys, "purge-dlq", queue, "--amqp-url", amqp_url)
        assert status == 0
        assert out.strip().endswith(f"removed 4 dead letter(s) from {queue}.dlq")
        assert depth(amqp_url, f"{queue}.dlq") == 0
        assert depth(amqp_url, queue) == 1  # the queue itself untouched

        put(amqp_url, f"{queue}.dlq", 2)
        monkeypatch.setattr("sys.stdin", io.StringIO(""))  # --yes never asks
        status, out, _ = run(capsys, "purge-dlq", queue, "--yes", "--amqp-url", amqp_url)
        assert (status, out.strip()) == (0, f"removed 2 dead letter(s) from {queue}.dlq")
        assert depth(amqp_url, f"{queue}.dlq") == 0

        status, out, _ = run(capsys, "purge-dlq", queue, "--amqp-url", amqp_url)
        assert (status, out.strip()) == (0, f"{queue}.dlq is empty: nothing to remove")

        status, _, err = run(capsys, "purge-dlq", "nope", "--yes", "--amqp-url", amqp_url)
        assert status == 1 and "unknown queue 'nope'" in one_line_error(err)
        assert depth(amqp_url, "nope.dlq") is None
    finally:
        drain(amqp_url, queue)
        drain(amqp_url, f"{queue}.dlq")


@pytest.mark.parametrize(
    "argv",
    [
        ("queues",),
        ("replay-dlq", "notifications.requested"),
        ("purge-dlq", "notifications.requested", "--yes"),
    ],
)
def test_an_unreachable_broker_is_one_line_and_a_failure(
    argv: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"amqp://guest:hunter2@127.0.0.1:{closed_port()}/"
    status, out, err = run(capsys, *argv, "--amqp-url", url)
    assert status == 1 and out == ""
    line = one_line_error(err)
    assert line.startswith(f"notifyctl {argv[0]}: cannot reach RabbitMQ at amqp://guest:***@127.0.0.1:")
    assert "hunter2" not in line


def test_an_unreachable_admin_api_is_one_line_and_a_failure(capsys: pytest.CaptureFixture[str]) -> None:
    base_url = f"http://127.0.0.1:{closed_port()}"
    for argv in (
        ("create-service", "--name", "Anything"),
        ("rotate-key", "--service", str(uuid.uuid4()), "--key-id", str(uuid.uuid4())),
        ("demo",),
    ):
        status, out, err = run(capsys, *argv, "--base-url", base_url)
        assert status == 1 and out == ""
        assert one_line_error(err).startswith(
            f"notifyctl {argv[0]}: cannot reach the admin API at {base_url}"
        )


def test_database_commands_fail_in_one_line(infra: Infra, capsys: pytest.CaptureFixture[str]) -> None:
    unreachable = f"postgresql+psycopg2://postgres@127.0.0.1:{closed_port()}/nowhere"
    status, _, err = run(capsys, "replay-callbacks", "--database-url", unreachable)
    assert status == 1
    assert one_line_error(err).startswith("notifyctl replay-callbacks: database error:")
    status, _, err = run(capsys, "replay-callbacks", "--service", "not-an-id")
    assert (status, one_line_error(err)) == (1, "notifyctl replay-callbacks: not a service id: 'not-an-id'")
    status, _, err = run(capsys, "add-inbound-numbers")
    assert (status, one_line_error(err)) == (1, "notifyctl add-inbound-numbers: give numbers or --file")
    status, _, err = run(capsys, "add-inbound-numbers", "07700 9OO456")
    assert status == 1 and "not a phone number" in one_line_error(err)
