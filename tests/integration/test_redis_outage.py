"""Redis down: sends carry on. The gateway's rate limit and daily limits fail open and its caches fall back, so
every send is still answered 201 and delivered; when Redis is back, sends go through it again.

The stack here has a Redis server of its own (killed with SIGKILL mid-run), so the shared one other tests use is
never touched."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from notifications_python_client.notifications import NotificationsAPIClient
from notify_tools.demo import create_demo
from notify_tools.launcher import RunningStack, free_port, launch
from notify_tools.testing import isolated_infra

from .helpers import eventually, status_or_none

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")


def _start_redis(port: int, tmp_path: Path) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port, socket_connect_timeout=0.5)
    assert eventually(lambda: _pings(client), bool, timeout=10, every=0.1)
    return server


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


@pytest.fixture
def own_redis_stack(tmp_path: Path) -> Iterator[tuple[RunningStack, int, list[subprocess.Popen[bytes]]]]:
    port = free_port()
    servers = [_start_redis(port, tmp_path)]
    with isolated_infra() as infra:
        env = {**infra.env(), "REDIS_URL": f"redis://127.0.0.1:{port}/0"}
        stack = launch(
            env,
            tmp_path / "logs",
            only=("sms-sim-mmg", "sms-sim-firetext", "notifications", "delivery-sms", "gateway"),
        )
        try:
            yield stack, port, servers
        finally:
            stack.stop_all()
            for server in servers:
                server.kill()
                server.wait()


def test_sends_carry_on_while_redis_is_down_and_use_it_again_when_back(
    own_redis_stack: tuple[RunningStack, int, list[subprocess.Popen[bytes]]], tmp_path: Path
) -> None:
    stack, port, servers = own_redis_stack
    demo = create_demo(stack.base_url, stack.admin_secret)
    client = NotificationsAPIClient(demo["api_keys"]["normal"], base_url=stack.base_url)

    def send(tag: str) -> str:
        started = time.monotonic()
        sent = client.send_sms_notification(
            "07700900123", demo["templates"]["sms"], {"name": "R", "reference": tag}, reference=tag
        )
        assert time.monotonic() - started < 5  # Redis's absence costs a short timeout at most, never a hang
        return str(sent["id"])

    before = send("before")
    daily_counter = f"*daily-limit:{{{demo['service_id']}}}:sms:*"
    counter_keys = redis.Redis(port=port).keys(daily_counter)
    assert counter_keys  # the send was counted in this stack's Redis

    servers[0].send_signal(signal.SIGKILL)
    servers[0].wait()
    during = [send(f"during-{i}") for i in range(5)]
    ready = httpx.get(f"{stack.base_url}/health/ready", timeout=5)
    assert ready.status_code == 200  # Redis is optional for the gateway: reported, not failing readiness
    assert ready.json()["checks"]["redis"] != "ok"

    servers.append(_start_redis(port, tmp_path))  # back, empty (it kept nothing on disk)
    after: list[str] = []

    def send_until_counted() -> list[bytes]:
        # The first sends after the restart may meet a pooled connection to the old server (and fail open again).
        after.append(send(f"after-{len(after)}"))
        return redis.Redis(port=port).keys(daily_counter)

    assert eventually(send_until_counted, bool, timeout=20, every=0.5)  # counting again
    assert len(after) < 10

    for notification_id in [before, *during, *after]:
        final = eventually(
            lambda nid=notification_id: status_or_none(client, nid),
            lambda n: n is not None and n["status"] == "delivered",
            timeout=60,
            every=0.5,
        )
        assert final is not None and final["status"] == "delivered", (notification_id, final)
