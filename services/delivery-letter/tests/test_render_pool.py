"""Letters rendered and checked in worker processes: the same PDFs as in the service process, made elsewhere; a
worker that dies fails only a retry's worth of letters, never loses one; an unexpected error fails its letter alone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from notify_delivery_letter.adapters import render_pool, store
from notify_delivery_letter.adapters.render_pool import (
    RenderFailed,
    RenderPool,
    RenderWorkerLost,
    chunks,
    render_chunk,
)
from notify_delivery_letter.adapters.scanner import EicarScanner
from notify_delivery_letter.adapters.tables import sends
from notify_delivery_letter.domain.letters import Prepared, render_templated
from notify_delivery_letter.handlers.prepare import LetterPreparer
from notify_delivery_letter.settings import Settings
from sqlalchemy import select

pytestmark = pytest.mark.integration


@pytest.fixture
async def pool() -> AsyncIterator[RenderPool]:
    started = RenderPool(2)
    await started.start()
    try:
        yield started
    finally:
        await started.stop()


def test_a_batch_is_cut_into_one_chunk_per_worker_in_order() -> None:
    assert chunks([1, 2, 3, 4, 5], 2) == [[1, 2, 3], [4, 5]]
    assert chunks([1, 2], 4) == [[1], [2]]
    assert chunks([1, 2, 3], 1) == [[1, 2, 3]]


def test_the_service_renders_on_every_cpu_by_default() -> None:
    assert Settings().letter_render_processes == (os.cpu_count() or 1)


def test_an_unexpected_error_fails_its_letter_alone_without_quoting_it(monkeypatch, make_request) -> None:
    good, bad = make_request(), make_request(body="Secret content of the letter")

    def render(request):  # type: ignore[no-untyped-def]
        if request.body.startswith("Secret"):
            raise ValueError(f"cannot lay out {request.body!r} for {request.address_lines}")
        return render_templated(request)

    monkeypatch.setattr(render_pool, "render_templated", render)
    ok, failed = render_chunk([good.payload, bad.payload])
    assert isinstance(ok, Prepared) and ok.pdf is not None
    assert isinstance(failed, RenderFailed)
    assert str(failed) == "rendering the letter failed (ValueError)"


async def test_letters_are_rendered_in_worker_processes_exactly_as_here(pool, make_request) -> None:
    assert await pool._call(os.getpid) != os.getpid()
    requests = [make_request(body=f"Letter {n}\n\n---\n\nPage two").payload for n in range(5)]
    assert await pool.render(requests) == [render_templated(r) for r in requests]
    assert await pool.render([]) == []


async def test_a_batch_of_templated_and_precompiled_letters_is_prepared_in_the_pool(
    pool, db, make_request, make_pdf, outbox_reports, state_of
) -> None:
    templated, precompiled, too_long = (
        make_request(),
        make_request(precompiled=True),
        make_request(body="\n\n---\n\n".join(["Page"] * 11)),
    )
    with db.unit_of_work() as conn:
        p = precompiled.payload
        store.put_pdf(conn, p.notification_id, p.service_id, make_pdf(pages=3), precompiled=True)
    preparer = LetterPreparer(db, EicarScanner(), renderer=pool)
    assert await preparer.handle([templated, precompiled, too_long]) == 3
    by_id = {r.notification_id: r for r in outbox_reports(db)}
    assert by_id[templated.payload.notification_id].status == "created"
    assert by_id[precompiled.payload.notification_id].status == "created"
    assert by_id[precompiled.payload.notification_id].billable_units == 2
    assert by_id[too_long.payload.notification_id].status == "validation-failed"
    assert state_of(db, templated.payload.notification_id) == "ready"
    assert state_of(db, precompiled.payload.notification_id) == "ready"


async def test_a_worker_that_dies_fails_its_letters_for_a_retry_and_the_pool_recovers(
    db, make_request, outbox_statuses
) -> None:
    pool = RenderPool(1)
    await pool.start()
    try:
        preparer = LetterPreparer(db, EicarScanner(), renderer=pool)
        env = make_request()
        assert pool._executor is not None
        pool._executor.submit(os._exit, 1)  # the only worker dies before it reaches the letter
        with pytest.raises(RenderWorkerLost):
            await preparer.handle([env])
        # Nothing reported, the claim kept: the consumer's retry prepares the letter.
        assert outbox_statuses(db) == []
        with db.engine.connect() as conn:
            state = conn.execute(
                select(sends.c.state).where(sends.c.notification_id == env.payload.notification_id)
            ).scalar()
        assert state == "claimed"
        assert pool.replaced == 1
        assert await preparer.handle([env]) == 1
        assert outbox_statuses(db) == [(str(env.payload.notification_id), "created")]
    finally:
        await pool.stop()


SERVICE_WITH_A_POOL = """
import asyncio
from notify_delivery_letter.adapters.render_pool import RenderPool

async def main():
    pool = RenderPool(2)
    await pool.start()
    print("workers", *pool._executor._processes, flush=True)
    await asyncio.sleep(120)

if __name__ == "__main__":
    asyncio.run(main())
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has exited (whoever adopted it may not reap it at once)


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_the_workers_of_a_killed_service_leave_with_it(tmp_path) -> None:
    script = tmp_path / "service.py"
    script.write_text(SERVICE_WITH_A_POOL)
    service = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert service.stdout is not None
        line = next(line for line in service.stdout if line.startswith("workers "))
        workers = [int(p) for p in line.split()[1:]]
        assert len(workers) == 2 and all(_alive(p) for p in workers)
    finally:
        service.send_signal(signal.SIGKILL)  # no shutdown: nothing tells the workers
        service.wait()
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(p) for p in workers)
