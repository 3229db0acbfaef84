"""Readiness reports every dependency, fails on required ones, and only degrades on optional ones."""

from __future__ import annotations

from notify_platform.runtime import Runtime
from notify_platform.settings import CommonSettings


async def _ok() -> None:
    return None


async def _down() -> None:
    raise ConnectionError("refused")


async def test_not_ready_until_started() -> None:
    runtime = Runtime("svc", CommonSettings())
    runtime.checks["database"] = _ok
    assert await runtime.readiness() == (False, {"database": "ok"})


async def test_required_failure_fails_readiness_and_optional_failure_only_degrades() -> None:
    runtime = Runtime("svc", CommonSettings())
    runtime.started = True
    runtime.checks["broker"] = _ok
    runtime.optional_checks["redis"] = _down
    assert await runtime.readiness() == (True, {"broker": "ok", "redis": "degraded: ConnectionError"})
    runtime.checks["database"] = _down
    ok, checks = await runtime.readiness()
    assert ok is False
    assert checks["database"] == "failing: ConnectionError"


async def test_a_handler_that_wrote_events_wakes_the_outbox_relay_and_one_that_did_not_does_not() -> None:
    from notify_platform.consumer import Subscription

    class Relay:
        woken = 0

        def wake(self) -> None:
            self.woken += 1

    runtime = Runtime("svc", CommonSettings())
    runtime.relay = Relay()  # type: ignore[assignment]
    written = {"n": 0}

    async def handler(batch: list[int]) -> int:
        return written["n"]

    runtime.subscribe(Subscription("q", ("x.*",), handler))  # type: ignore[arg-type]
    (sub,) = runtime.subscriptions
    assert await sub.handler([1]) == 0 and runtime.relay.woken == 0  # type: ignore[attr-defined]
    written["n"] = 2
    assert await sub.handler([1]) == 2 and runtime.relay.woken == 1  # type: ignore[attr-defined]
