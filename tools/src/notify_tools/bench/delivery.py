"""Each delivery service against its simulator: how many messages a second it takes off its queue and hands to the
provider over the real protocol (HTTP to the SMS simulators, SMTP to the sink, a zip upload to the print
simulator), with its ledger, outbox and status reports as in production.

For each channel: the simulators start; ``n`` delivery requests are published to the channel's (already declared)
queue; then the delivery service starts and drains the backlog. The rate is taken from the service's own ledger
(when each message was handed over), so start-up time is not counted: ``sustained`` is the median of the
per-second rates over the middle 80% of the run, ``overall`` is ``n`` over the time from the first hand-over to the
last. Afterwards the simulators' counts are checked: every message arrived exactly once.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import httpx
from notify_contracts import (
    EmailDeliveryRequestedV1,
    Event,
    LetterDeliveryRequestedV1,
    SmsDeliveryRequestedV1,
    new_envelope,
)
from notify_platform.broker import Broker
from sqlalchemy import create_engine, text

from ..launcher import RunningStack, free_port, launch
from ..stack import processes
from ..testing import Infra
from . import cpu
from .report import Row, Section

TARGET = 1_000.0
SERVICE_ID = uuid.UUID("00000000-0000-4000-8000-00000000be4c")

EMAIL_BODY = """Dear Jo Bloggs,

We have received your application on 1 May. Your reference is AB-123.

## What happens next

* we check your documents
* we contact your referees
* we make a decision within 10 days

^ If you need help, call 0300 123 4567.

Find out more at https://www.gov.uk/example or [contact us](https://example.gov.uk/contact).
"""

LETTER_BODY = """Dear Jo Bloggs,

Your appointment at Riverside clinic is on 3 March at 10:30. Your reference is AB123.

# What to bring

* this letter
* a list of the medicines you take

If you cannot come, call 0300 123 4567 at least 2 days before.
"""

TITLE = "Delivery services"


def sms(i: int) -> Event:
    return SmsDeliveryRequestedV1(
        notification_id=uuid.uuid4(),
        service_id=SERVICE_ID,
        to=f"4477009{i % 100000:05d}",
        content=f"Example Service: Your code is {i % 1000000:06d}. It expires in 15 minutes.",
        sender="Example",
        key_type="normal",
        created_at=datetime.now(UTC),
    )


def email(i: int) -> Event:
    return EmailDeliveryRequestedV1(
        notification_id=uuid.uuid4(),
        service_id=SERVICE_ID,
        to=f"person-{i}@example.gov.uk",
        subject=f"Your application AB-{i}",
        body=EMAIL_BODY,
        from_address="example.service@notify.localhost",
        reply_to="replies@example.gov.uk",
        one_click_unsubscribe_url=f"https://example.gov.uk/unsubscribe/{i}",
        key_type="normal",
        created_at=datetime.now(UTC),
    )


def letter(i: int) -> Event:
    return LetterDeliveryRequestedV1(
        notification_id=uuid.uuid4(),
        service_id=SERVICE_ID,
        template_id=uuid.UUID("00000000-0000-4000-8000-0000000011e7"),
        template_version=1,
        address_lines=[f"Jo Bloggs {i}", "1 High Street", "Leeds", "LS1 1AA"],
        body=LETTER_BODY,
        subject="Your appointment",
        postage="second",
        key_type="normal",
        created_at=datetime.now(UTC),
        contact_block="Example Service\nPO Box 1\nLeeds",
    )


@dataclass(frozen=True)
class Channel:
    name: str
    service: str  # process name in notify_tools.stack
    simulators: tuple[str, ...]
    database: str
    ledger: str  # the ledger table; "handed over" is its sent_at
    make: Callable[[int], Event]
    # For letters, a message has reached the print simulator only when its batch was uploaded.
    handed_over_sql: str | None = None


CHANNELS = {
    "sms": Channel(
        "sms", "delivery-sms", ("sms-sim-mmg", "sms-sim-firetext"), "delivery_sms", "sms_sends", sms
    ),
    "email": Channel("email", "delivery-email", ("email-sink",), "delivery_email", "email_sends", email),
    "letter": Channel(
        "letter",
        "delivery-letter",
        ("print-sim",),
        "delivery_letter",
        "letter_sends",
        letter,
        handed_over_sql=(
            "SELECT b.sent_at FROM letters l JOIN print_batches b ON b.id = l.batch_id WHERE b.state = 'sent'"
        ),
    ),
}


async def publish(amqp_url: str, events: list[Event], *, window: int = 500) -> float:
    """Publish every event with confirms, ``window`` in flight at once; returns the rate achieved."""
    broker = Broker(amqp_url, exchange_name="notify", producer="bench")
    await broker.connect()
    try:
        started = time.perf_counter()
        for start in range(0, len(events), window):
            await asyncio.gather(
                *(
                    broker.publish(new_envelope(e, producer="bench", correlation_id=f"bench-{start}"))
                    for e in events[start : start + window]
                )
            )
        return len(events) / (time.perf_counter() - started)
    finally:
        await broker.close()


def _per_second(times: list[datetime]) -> list[tuple[int, int]]:
    first = min(times)
    counts: dict[int, int] = {}
    for t in times:
        second = int((t - first).total_seconds())
        counts[second] = counts.get(second, 0) + 1
    return [(s, counts.get(s, 0)) for s in range(max(counts) + 1)]


def sustained(points: list[tuple[int, int]]) -> float:
    """The median per-second rate over the middle 80% of the run (no warm-up, no tail)."""
    rates = [rate for _, rate in points]
    if len(rates) < 5:
        return float(sum(rates)) / max(len(rates), 1)
    cut = max(1, len(rates) // 10)
    return float(statistics.median(rates[cut:-cut]))


@dataclass
class Result:
    channel: str
    n: int
    overall: float
    sustained: float
    series: list[tuple[int, int]]
    publish_rate: float
    at_simulator: int
    duplicates: int
    cpu_ms_per_message: dict[str, float]


def _wait_handed_over(
    stack: RunningStack, database_url: str, channel: Channel, n: int, timeout: float
) -> list[datetime]:
    engine = create_engine(database_url)
    query = channel.handed_over_sql or f"SELECT sent_at FROM {channel.ledger} WHERE state = 'sent'"  # noqa: S608
    deadline = time.monotonic() + timeout
    try:
        with engine.connect() as conn:
            while True:
                count = conn.execute(text(f"SELECT count(*) FROM ({query}) q")).scalar_one()  # noqa: S608
                conn.commit()
                if count >= n:
                    return [row[0] for row in conn.execute(text(query))]
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{channel.name}: {count} of {n} handed over after {timeout:.0f}s")
                for name in (f"{channel.service}-api", f"{channel.service}-consumer"):
                    if stack.procs[name][1].poll() is not None:
                        raise RuntimeError(f"{name} exited:\n{stack.tail(name)}")
                time.sleep(1)
    finally:
        engine.dispose()


def start_as_deployed(stack: RunningStack, service: str) -> list[str]:
    """Start a service as Kubernetes runs it: an ``api`` process (receipts, on the port the simulators post to)
    and a ``consumer`` process (the queue), rather than ``make run``'s single ``all`` process."""
    (listed,) = [p for p in processes(stack.ports) if p.name == service]
    names = []
    for role, port in (("api", listed.port), ("consumer", free_port())):
        argv = (*listed.argv[:3], role, "--port", str(port))
        stack.start_proc(replace(listed, name=f"{service}-{role}", argv=argv, port=port))
        names.append(f"{service}-{role}")
    return names


def _simulator_counts(stack: RunningStack, channel: Channel) -> tuple[int, int]:
    total = duplicates = 0
    for sim in channel.simulators:
        stats = httpx.get(f"{stack.url(sim)}/stats", timeout=30).json()
        total += int(stats["total"])
        duplicates += len(stats["duplicates"])
    return total, duplicates


def check_exactly_once(channel: str, n: int, at_simulator: int, duplicates: int) -> None:
    """A run that lost or repeated a message has no rate worth reporting."""
    if at_simulator != n or duplicates:
        raise RuntimeError(
            f"{channel}: the simulator received {at_simulator} messages ({duplicates} more than once) for {n} sent"
        )


def run_channel(infra: Infra, log_dir: Path, channel: Channel, n: int, extra_env: dict[str, str]) -> Result:
    stack = launch(infra.env(), log_dir / channel.name, extra_env=extra_env, only=channel.simulators)
    try:
        events = [channel.make(i) for i in range(n)]
        publish_rate = asyncio.run(publish(stack.env["AMQP_URL"], events))
        names = start_as_deployed(stack, channel.service)
        stack.wait_ready(names)
        pids = {name: child.pid for name, (_, child) in stack.procs.items()}
        before = cpu.snapshot(pids)
        times = _wait_handed_over(
            stack, infra.database_url(channel.database), channel, n, timeout=max(120.0, n / 50)
        )
        cpu_spent = cpu.spent(before, cpu.snapshot(pids))
        series = _per_second(times)
        elapsed = max((max(times) - min(times)).total_seconds(), 1e-3)
        at_simulator, duplicates = _simulator_counts(stack, channel)
        check_exactly_once(channel.name, n, at_simulator, duplicates)
        return Result(
            channel.name,
            n,
            n / elapsed,
            sustained(series),
            series,
            publish_rate,
            at_simulator,
            duplicates,
            {name: 1000 * seconds / n for name, seconds in cpu_spent.items()},
        )
    finally:
        stack.stop_all()


# Quiet simulators: no artificial latency, receipts soon after the send (as the test stack has them), letters
# collected into a print batch every second.
BENCH_ENV = {
    "LETTER_BATCH_INTERVAL_SECONDS": "1",
    "PRINT_SIM_LATENCY_MS": "0",
    "PRINT_SIM_DESPATCH_DELAY_MS": "1000",
    "LOG_LEVEL": "INFO",
}


def run(
    infra: Infra, log_dir: Path, *, n: int, channels: tuple[str, ...] = ("sms", "email", "letter")
) -> Section:
    section = Section(
        title=TITLE,
        intro=(
            f"Each delivery service draining a backlog of {n:,} requests to its simulator over the real protocol "
            "(HTTP, SMTP, HTTPS zip upload), run as Kubernetes runs it (an api process for receipts and a consumer "
            "process), with its ledger, outbox and status reports. "
            "Sustained: the median per-second rate over the middle 80% of the run."
        ),
    )
    for name in channels:
        result = run_channel(infra, log_dir, CHANNELS[name], n, BENCH_ENV)
        service = CHANNELS[name].service
        section.rows.append(Row(f"{service}: sustained", result.sustained, "msg/s", TARGET))
        section.rows.append(Row(f"{service}: first to last hand-over", result.overall, "msg/s"))
        section.series[name] = result.series
        section.notes.append(
            f"{service}: {result.at_simulator:,} of {result.n:,} received by the simulator, "
            f"{result.duplicates} duplicates; backlog published at {result.publish_rate:,.0f} msg/s."
        )
        by_process = sorted(result.cpu_ms_per_message.items(), key=lambda kv: -kv[1])
        section.notes.append(
            f"{service}: CPU per message (ms), whole machine "
            f"{sum(result.cpu_ms_per_message.values()):.2f}: "
            + ", ".join(f"{name} {ms:.2f}" for name, ms in by_process)
        )
    return section
