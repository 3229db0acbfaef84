"""The benchmark's arithmetic and report: per-second series, the sustained rate, CPU accounting and the written
report (the measurements themselves run under ``make bench``, not in the test suite)."""

from __future__ import annotations

import os
from collections.abc import Iterator
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
        "series,second,value",
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


def test_tokens_cover_the_run_each_valid_for_its_service_and_fresh() -> None:
    import jwt
    from notify_tools.bench.load import TOKEN_STEP, mint_tokens, split_api_key

    service_id, secret = "6a1f3c2e-7b1d-4c5e-9f00-0123456789ab", "0f1e2d3c-4b5a-4968-8776-65544332211f"
    api_key = f"bench_key-{service_id}-{secret}"
    assert split_api_key(api_key) == (service_id, secret)
    tokens = mint_tokens(api_key, seconds=60, start=1_000_000)
    iats = [iat for iat, _ in tokens]
    assert (
        iats[0] <= 1_000_000 and iats[-1] >= 1_000_060
    )  # every second of the run has a token already issued
    assert all(b - a == TOKEN_STEP for a, b in zip(iats, iats[1:], strict=False))
    for iat, token in tokens:
        claims = jwt.decode(token, secret, algorithms=["HS256"], options={"verify_iat": False})
        assert claims == {"iss": service_id, "iat": iat}
        with pytest.raises(jwt.InvalidSignatureError):
            jwt.decode(token, "another secret", algorithms=["HS256"], options={"verify_iat": False})


@pytest.fixture(scope="module")
def bare_app_url() -> Iterator[str]:
    import subprocess
    import sys

    from notify_tools.launcher import free_port, wait_healthy

    port = free_port()
    child = subprocess.Popen(
        [sys.executable, "-m", "notify_tools.bench.bare_app", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}/health", child, timeout=60)
        yield f"http://127.0.0.1:{port}"
    finally:
        child.terminate()
        child.wait(30)


BODY = b'{"phone_number": "07700 900123", "template_id": "00000000-0000-4000-8000-000000000001"}'


def test_wrk_stops_at_its_quota_at_once(bare_app_url: str) -> None:
    import time

    from notify_tools.bench.load import run_wrk

    started = time.monotonic()
    result = run_wrk(
        bare_app_url, path="/v2/notifications/sms", body=BODY, seconds=120, connections=8, stop_after=500
    )
    assert time.monotonic() - started < 60  # not the 120 s asked for: the quota ended it
    assert result.requests >= 500 and result.created == result.requests and result.socket_errors == 0
    assert 0 < result.p50_ms <= result.p95_ms <= result.p99_ms <= result.max_ms


def test_wrk_keeps_a_fixed_rate_and_counts_refusals(bare_app_url: str) -> None:
    from notify_tools.bench.load import run_wrk

    result = run_wrk(
        bare_app_url, path="/v2/notifications/sms", body=BODY, seconds=3, connections=16, rate=200
    )
    assert 170 <= result.rate <= 215  # the schedule, not the server, sets the pace
    refused = run_wrk(
        bare_app_url, path="/v2/notifications/sms", body=b'{"phone_number": 1}', seconds=1, connections=2
    )
    assert refused.requests > 0 and refused.created == 0  # 422s are answers, but not 201s


def test_ratios_are_of_figures_from_the_same_run() -> None:
    from notify_tools.bench.__main__ import ratios

    section = ratios(bare_rate=3000, gateway_rate=1800, broker_rate=4000, e2e_rate=1000)
    assert section is not None
    assert [(r.name, round(r.figure, 2), r.verdict) for r in section.rows] == [
        ("gateway / bare FastAPI", 0.6, "met"),
        ("end to end / raw broker publish", 0.25, ""),
    ]
    assert (
        ratios(bare_rate=3000, gateway_rate=1000, broker_rate=None, e2e_rate=None).rows[0].verdict
        == "NOT met"
    )
    assert ratios(None, None, None, None) is None


def test_the_plot_draws_every_series(tmp_path: Path) -> None:
    from notify_tools.bench.plot import draw, read

    section = Section("End to end: POST to delivered", "intro")
    section.series = {"accepted": [(0, 5), (1, 7)], "final": [(0, 3), (1, 9)], "rss_mb:gateway": [(0, 120)]}
    report = tmp_path / "benchmarks.md"
    write([section], report, command="make bench")
    csv_file = tmp_path / "benchmarks-end-to-end.csv"
    assert read(csv_file) == {
        "accepted": [(0, 5.0), (1, 7.0)],
        "final": [(0, 3.0), (1, 9.0)],
        "rss_mb:gateway": [(0, 120.0)],
    }
    png = draw([csv_file, tmp_path / "missing.csv"], tmp_path / "benchmarks.png")
    assert png is not None and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert draw([tmp_path / "missing.csv"], tmp_path / "none.png") is None


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc (Linux)")
def test_the_rss_sampler_reads_this_process() -> None:
    import time

    from notify_tools.bench.memory import RssSampler, rss_mb

    assert rss_mb(os.getpid()) > 10
    with RssSampler({"me": os.getpid()}, interval=0.05) as sampler:
        time.sleep(0.3)
    assert len(sampler.samples["me"]) >= 3
    assert sampler.peak("me") >= sampler.median_between("me", 0, 10) > 10


@pytest.mark.integration
def test_the_accept_and_end_to_end_sections_run_on_a_stack_of_their_own(tmp_path: Path) -> None:
    """A small run of what ``make bench`` runs, so a change that breaks it fails here and not an hour later."""
    from notify_tools.bench import accept, e2e
    from notify_tools.testing import isolated_infra

    with isolated_infra() as infra:
        section, saturated, fixed = accept.run(infra, tmp_path, seconds=2)
        assert saturated.requests > 0 and saturated.created == saturated.requests
        assert fixed.requests > 0 and fixed.created == fixed.requests
        assert any(row.name.endswith("p99 latency") and row.ceiling == 100.0 for row in section.rows)
        assert "gateway" in section.notes[0]

        section, rate = e2e.run(infra, tmp_path, n=200, soak_seconds=0)
    assert rate > 0
    assert section.rows[0].name.endswith("first POST to last final status")
    assert "0 lost, 0 repeated" in section.notes[1]
    assert set(section.series) >= {"accepted", "final", "rss_mb:gateway", "rss_mb:notifications"}
