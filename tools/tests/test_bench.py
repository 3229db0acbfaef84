"""The benchmark's arithmetic and report: per-second series, the sustained rate, CPU accounting and the written
report (the measurements themselves run under ``make bench``, not in the test suite)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from notify_tools.bench import cpu
from notify_tools.bench.delivery import _per_second, start_as_deployed, sustained
from notify_tools.bench.report import Row, Section, table, write

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def test_per_second_counts_every_second_including_empty_ones() -> None:
    times = [T0, T0 + timedelta(milliseconds=500), T0 + timedelta(seconds=2, milliseconds=1)]
    assert _per_second(times) == [(0, 2), (1, 0), (2, 1)]


def test_sustained_ignores_warm_up_and_tail() -> None:
    # 10 s: a slow first and last second around a steady 1,000/s.
    points = [(0, 10), *((s, 1000) for s in range(1, 9)), (9, 5)]
    assert sustained(points) == 1000
    assert sustained([(0, 30), (1, 40)]) == 35  # too short to trim: the mean


def test_rows_say_whether_their_target_was_met() -> None:
    assert Row("x", 1200, "msg/s", 1000).verdict == "met"
    assert Row("x", 999, "msg/s", 1000).verdict == "NOT met"
    assert Row("x", 5, "msg/s").verdict == ""


def test_report_and_csv_are_written(tmp_path: Path) -> None:
    section = Section("Delivery services", "intro", [Row("delivery-sms: sustained", 1234.5, "msg/s", 1000)])
    section.series["sms"] = [(0, 10), (1, 20)]
    section.notes.append("a note")
    report = tmp_path / "benchmarks.md"
    write([section], report, command="make bench")
    text = report.read_text()
    assert f"{os.cpu_count()} cores" in text and "`make bench`" in text
    assert "| delivery-sms: sustained | 1,234 msg/s | ≥ 1,000 msg/s | met |" in text
    assert "- a note" in text
    assert (tmp_path / "benchmarks-delivery-services.csv").read_text().splitlines() == [
        "series,second,per_second",
        "sms,0,10",
        "sms,1,20",
    ]


def test_a_partial_run_keeps_the_sections_it_did_not_measure(tmp_path: Path) -> None:
    report = tmp_path / "benchmarks.md"
    first = [Section("Delivery services", "old delivery"), Section("Jobs: CSV batch sends", "old jobs")]
    write(first, report, command="notify-bench", order=["Delivery services", "Jobs: CSV batch sends"])
    write(
        [Section("Jobs: CSV batch sends", "new jobs")],
        report,
        command="notify-bench --only jobs",
        order=["Delivery services", "Jobs: CSV batch sends"],
    )
    text = report.read_text()
    assert "old delivery" in text and "new jobs" in text and "old jobs" not in text
    assert text.index("## Delivery services") < text.index("## Jobs: CSV batch sends")
    assert text.count("## ") == 2
    assert "with `notify-bench`." in text and "with `notify-bench --only jobs`." in text


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_cpu_snapshot_sees_this_process_spend_cpu() -> None:
    me = {"bench": os.getpid()}
    before = cpu.snapshot(me)
    deadline = datetime.now(UTC) + timedelta(milliseconds=300)
    while datetime.now(UTC) < deadline:
        sum(i * i for i in range(1000))
    assert cpu.spent(before, cpu.snapshot(me))["bench"] > 0.1


def test_a_service_starts_as_deployed_api_and_consumer() -> None:
    started = []

    class Stack:
        from notify_tools.stack import Ports

        ports = Ports()

        def start_proc(self, proc):  # type: ignore[no-untyped-def]
            started.append(proc)

    names = start_as_deployed(Stack(), "delivery-sms")  # type: ignore[arg-type]
    assert names == ["delivery-sms-api", "delivery-sms-consumer"]
    api, consumer = started
    assert api.argv[-3:] == ("api", "--port", "6014") and api.port == 6014  # where receipts are posted
    assert consumer.argv[-3:-1] == ("consumer", "--port") and consumer.port != 6014
    assert api.env == consumer.env and "MMG_URL" in api.env


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_cpu_of_a_child_process_counts_for_its_parent() -> None:
    import subprocess
    import sys

    me = {"bench": os.getpid()}
    before = cpu.snapshot(me)
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time\nt=time.process_time()\nwhile time.process_time()-t<0.3: pass\ntime.sleep(2)",
        ]
    )
    try:
        import time

        time.sleep(1.2)  # the child has burnt its CPU and is sleeping, still alive
        assert cpu.spent(before, cpu.snapshot(me))["bench"] >= 0.25
    finally:
        child.kill()
        child.wait()


def test_ceilings_are_met_at_or_below_them() -> None:
    assert Row("checked", 7.1, "s", ceiling=10).verdict == "met"
    assert Row("stored", 138, "s", ceiling=60).verdict == "NOT met"
    assert "≤ 60" in table(Section("t", "i", [Row("stored", 138, "s", ceiling=60)]))


def test_the_jobs_bench_file_is_valid_for_its_template(tmp_path: Path) -> None:
    from notify_jobs.domain.rows import FileChecker, ServiceRules, TemplateInfo
    from notify_jobs.domain.spreadsheet import read_rows
    from notify_tools.bench.jobs import TEMPLATE, csv_bytes, peak_rss_mb

    path = tmp_path / "bench.csv"
    path.write_bytes(csv_bytes(500))
    checker = FileChecker(
        TemplateInfo(template_type="sms", content=TEMPLATE),
        ServiceRules(
            allow_international_sms=False,
            allow_sms_to_uk_landlines=False,
            allow_international_letters=False,
            restricted=False,
        ),
    )
    report = checker.feed(read_rows(path, "bench.csv"))
    assert report.valid and report.notification_count == 500
    assert 1 < peak_rss_mb(os.getpid()) < 10_000


def test_a_run_that_lost_or_repeated_a_message_is_refused() -> None:
    from notify_tools.bench.delivery import check_exactly_once

    check_exactly_once("sms", 100, 100, 0)
    with pytest.raises(RuntimeError, match="99 messages"):
        check_exactly_once("sms", 100, 99, 0)
    with pytest.raises(RuntimeError, match="1 more than once"):
        check_exactly_once("sms", 100, 101, 1)


@pytest.mark.integration
async def test_the_broker_baseline_publishes_and_consumes_every_message_and_cleans_up(infra) -> None:
    import aio_pika
    from notify_tools.bench.baseline import broker_rates

    name = f"bench.baseline.test-{os.getpid()}"
    publish_rate, consume_rate, publish_ms, consume_ms = await broker_rates(
        infra.amqp_url, 300, queue_name=name
    )
    assert publish_rate > 0 and consume_rate > 0 and publish_ms > 0 and consume_ms > 0
    connection = await aio_pika.connect(infra.amqp_url)
    try:
        channel = await connection.channel()
        with pytest.raises(aio_pika.exceptions.ChannelNotFoundEntity):  # its queue is gone
            await channel.declare_queue(name, passive=True)
    finally:
        await connection.close()
