"""Accept: ``POST /v2/notifications/sms`` through the gateway, and the bare FastAPI endpoint it is read against.

Both are driven by the same wrk settings (one thread, ``CONNECTIONS`` keep-alive connections, the same JSON body)
and served the same way (uvicorn, uvloop, httptools, one process):

* **bare FastAPI**: ``bare_app`` parses and validates the body with a pydantic model and answers 201;
* **gateway at saturation**: every request authenticated with a pre-minted JWT (``load.mint_tokens``), rate- and
  daily-limited in Redis, validated, rendered, and published to RabbitMQ with a confirm before the 201;
* **gateway at a fixed rate** (``FIXED_RATE``, 1,000 requests/s offered): the latency percentiles the target is
  set on.

The gateway runs with what it calls on the send path: notifications' ``api`` process (the service, key and template
lookups, cached), Redis and RabbitMQ. Notifications' consumer is not running, so the figure is the gateway's own
and not shared with the pipeline behind it (the end-to-end section measures that); what was accepted is purged
afterwards. The service's rate limit is raised so the limiter is exercised without refusing.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from notify_platform.broker import Broker

from ..demo import create_demo
from ..launcher import RunningStack, free_port, launch, wait_healthy
from ..stack import processes
from ..testing import Infra
from . import cpu
from .load import LoadResult, mint_tokens, run_wrk
from .report import Row, Section

TITLE = "Accept: the gateway"
BARE_TITLE = "Baseline: bare FastAPI"
CONNECTIONS = 32
FIXED_RATE = 1_000.0
FIXED_CONNECTIONS = 128  # enough that a slow second does not stall the schedule (rate × latency)
P99_CEILING_MS = 100.0
PATH = "/v2/notifications/sms"


def sms_body(template_id: str) -> bytes:
    return json.dumps(
        {
            "phone_number": "07700 900123",
            "template_id": template_id,
            "personalisation": {"name": "Jo Bloggs", "reference": "AB-123"},
            "reference": "bench",
        }
    ).encode()


def bare(seconds: float, log_dir: Path) -> tuple[LoadResult, float]:
    """(wrk's figures, CPU ms per request of the server) for the bare FastAPI endpoint at saturation."""
    port = free_port()
    log_dir.mkdir(parents=True, exist_ok=True)
    with (log_dir / "bare-app.log").open("wb") as log:
        child = subprocess.Popen(
            [sys.executable, "-m", "notify_tools.bench.bare_app", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_healthy(f"http://127.0.0.1:{port}/health", child, timeout=60)
        body = sms_body("00000000-0000-4000-8000-000000000001")
        run_wrk(
            f"http://127.0.0.1:{port}", path=PATH, body=body, seconds=3, connections=CONNECTIONS
        )  # warm up
        before = cpu.snapshot({"bare": child.pid})
        result = run_wrk(
            f"http://127.0.0.1:{port}", path=PATH, body=body, seconds=seconds, connections=CONNECTIONS
        )
        spent = cpu.spent(before, cpu.snapshot({"bare": child.pid})).get("bare", 0.0)
    finally:
        child.terminate()
        child.wait(30)
    if result.created != result.requests or not result.requests:
        raise RuntimeError(f"bare FastAPI answered {result.created} of {result.requests} with 201")
    return result, 1000 * spent / result.requests


def bare_section(seconds: float, log_dir: Path) -> tuple[Section, LoadResult]:
    result, cpu_ms = bare(seconds, log_dir)
    section = Section(
        title=BARE_TITLE,
        intro=(
            "A bare FastAPI endpoint that validates the same JSON body as `POST /v2/notifications/sms` with a pydantic "
            "model and answers 201, served as every service is (uvicorn, uvloop, httptools, one process), driven by "
            f"wrk with one thread and {CONNECTIONS} connections for {seconds:.0f} s."
        ),
    )
    section.rows += [
        Row("bare FastAPI: requests/s at saturation", result.rate, "req/s"),
        Row("bare FastAPI: p99 latency at saturation", result.p99_ms, "ms"),
    ]
    section.notes.append(f"bare FastAPI: {cpu_ms:.2f} ms of CPU per request in the server process.")
    return section, result


def _start_gateway_stack(infra: Infra, log_dir: Path) -> RunningStack:
    """The gateway and notifications' api process (what the send path calls), not its consumer."""
    stack = launch(infra.env(), log_dir, extra_env={"LOG_LEVEL": "INFO"}, only=("gateway",))
    (listed,) = [p for p in processes(stack.ports) if p.name == "notifications"]
    stack.start_proc(replace(listed, argv=(*listed.argv[:3], "api", "--port", str(listed.port))))
    stack.wait_ready()
    return stack


def prepare_sender(stack: RunningStack, *, limit: int) -> dict[str, Any]:
    """A demo service allowed ``limit`` texts today and a rate limit that will not refuse the benchmark."""
    return create_demo(stack.base_url, stack.admin_secret, sms_message_limit=limit, rate_limit=100_000_000)


def _purge(amqp_url: str) -> None:
    async def purge() -> None:
        broker = Broker(amqp_url, exchange_name="notify", producer="bench")
        await broker.connect()
        try:
            channel = await broker.channel(1)
            queue = await channel.declare_queue("notifications.requested", passive=True)
            await queue.purge()
            await channel.close()
        finally:
            await broker.close()

    asyncio.run(purge())


def run(infra: Infra, log_dir: Path, *, seconds: float) -> tuple[Section, LoadResult, LoadResult]:
    """The accept section, and (saturation, fixed-rate) figures for the ratios."""
    stack = _start_gateway_stack(infra, log_dir / "accept")
    try:
        demo = prepare_sender(stack, limit=10_000_000)
        body = sms_body(demo["templates"]["sms"])
        tokens = mint_tokens(demo["api_keys"]["normal"], seconds=3 * seconds + 120)
        url = stack.base_url
        run_wrk(
            url, path=PATH, body=body, seconds=3, connections=CONNECTIONS, tokens=tokens
        )  # warm the caches
        pids = {name: child.pid for name, (_, child) in stack.procs.items()}
        before = cpu.snapshot(pids)
        saturated = run_wrk(
            url, path=PATH, body=body, seconds=seconds, connections=CONNECTIONS, tokens=tokens
        )
        spent = cpu.spent(before, cpu.snapshot(pids))
        fixed = run_wrk(
            url,
            path=PATH,
            body=body,
            seconds=seconds,
            connections=FIXED_CONNECTIONS,
            tokens=tokens,
            rate=FIXED_RATE,
        )
    finally:
        stack.stop_all()
        # What was accepted is not the end-to-end section's: drop it once the gateway has stopped publishing.
        _purge(stack.env["AMQP_URL"])
    for name, result in (("saturation", saturated), ("fixed rate", fixed)):
        if result.created != result.requests or result.socket_errors:
            raise RuntimeError(
                f"gateway at {name}: {result.created} of {result.requests} answered 201, "
                f"{result.socket_errors} socket errors"
            )
    section = Section(
        title=TITLE,
        intro=(
            "`POST /v2/notifications/sms` through the gateway with valid JWTs (a pool of pre-minted tokens, each used "
            "for at most 10 s of its 30 s window), driven by wrk with the bare endpoint's settings: at saturation "
            f"({CONNECTIONS} connections) and at a fixed offered rate of {FIXED_RATE:,.0f} requests/s "
            f"({FIXED_CONNECTIONS} connections), {seconds:.0f} s each. The gateway calls notifications' api process "
            "(lookups, cached), Redis and RabbitMQ; notifications' consumer is not running, so no CPU goes to the "
            "pipeline behind it (the end-to-end section measures that)."
        ),
    )
    section.rows += [
        Row("saturation: requests/s (all 201)", saturated.rate, "req/s"),
        Row("saturation: p50 latency", saturated.p50_ms, "ms"),
        Row("saturation: p95 latency", saturated.p95_ms, "ms"),
        Row("saturation: p99 latency", saturated.p99_ms, "ms"),
        Row(f"{FIXED_RATE:,.0f} req/s offered: achieved", fixed.rate, "req/s", target=FIXED_RATE * 0.98),
        Row(f"{FIXED_RATE:,.0f} req/s offered: p50 latency", fixed.p50_ms, "ms"),
        Row(f"{FIXED_RATE:,.0f} req/s offered: p95 latency", fixed.p95_ms, "ms"),
        Row(f"{FIXED_RATE:,.0f} req/s offered: p99 latency", fixed.p99_ms, "ms", ceiling=P99_CEILING_MS),
    ]
    by_process = sorted(
        ((name, 1000 * value / saturated.requests) for name, value in spent.items()), key=lambda kv: -kv[1]
    )
    section.notes.append(
        "saturation: CPU per request (ms): " + ", ".join(f"{name} {ms:.2f}" for name, ms in by_process) + "."
    )
    return section, saturated, fixed
