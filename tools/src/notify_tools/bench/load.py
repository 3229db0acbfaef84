"""HTTP load from wrk (C, one thread, a Lua script we generate): a fixed offered rate or saturation, with the
latency percentiles wrk measures and the count of 201s.

Authentication is a pool of pre-minted tokens, one per ``TOKEN_STEP`` seconds of the run: each request carries
the newest token whose ``iat`` has passed, so every token in use is under ``TOKEN_STEP`` seconds old, well within
the gateway's 30-second window, and minting costs the load generator nothing during the run.

A fixed rate is kept by a schedule, not by think time: every request claims the next slot of
``1 / rate`` seconds and waits for it (``delay()``), so the offered rate does not fall when responses slow down,
as long as there are connections free (``connections`` must exceed rate × latency). Past that point the rate falls
and the latencies wrk reports are those of the requests that were sent (wrk's closed-loop caveat); the report gives
the rate actually achieved next to the one offered.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import jwt

TOKEN_STEP = 10  # seconds between the iat of one pre-minted token and the next


@dataclass(frozen=True)
class LoadResult:
    requests: int  # responses received
    created: int  # of which 201
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    socket_errors: int  # connect, read, write and timeout errors

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def created_rate(self) -> float:
        return self.created / self.seconds if self.seconds else 0.0


def wrk_binary() -> str:
    """wrk from PATH, or the copy ``tools/bin/install-wrk`` unpacked into the checkout's ``.tools/bin``."""
    found = shutil.which("wrk")
    if found:
        return found
    for parent in Path(__file__).resolve().parents:
        candidate = parent / ".tools" / "bin" / "wrk"
        if candidate.exists():
            return str(candidate)
    raise RuntimeError(
        "wrk is not installed: run `make bench` (it runs tools/bin/install-wrk) or install wrk"
    )


def split_api_key(api_key: str) -> tuple[str, str]:
    """(service id, secret) of a Notify API key: ``<name>-<service id>-<secret>``, both ids 36 characters."""
    return api_key[-73:-37], api_key[-36:]


def mint_tokens(api_key: str, *, seconds: float, start: float | None = None) -> list[tuple[int, str]]:
    """(iat, token) every ``TOKEN_STEP`` seconds from a little before ``start`` (now) until ``seconds`` after it."""
    service_id, secret = split_api_key(api_key)
    first = int(start if start is not None else time.time()) - 1
    return [
        (iat, jwt.encode({"iss": service_id, "iat": iat}, secret, algorithm="HS256"))
        for iat in range(first, first + int(seconds) + 2 * TOKEN_STEP, TOKEN_STEP)
    ]


def _lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string of ASCII is a valid Lua string literal


def script(
    *,
    path: str,
    body: bytes,
    tokens: Iterable[tuple[int, str]] = (),
    rate_per_thread: float | None = None,
    stop_after: int | None = None,
) -> str:
    """The Lua script: POST ``body`` to ``path``; pick the current token; keep the schedule; count 201s; stop after
    ``stop_after`` responses (per thread); print the summary as one JSON line prefixed ``NOTIFY-BENCH``."""
    token_rows = ",\n".join(f"  {{{iat}, {_lua_string(token)}}}" for iat, token in tokens)
    interval_ms = "nil" if not rate_per_thread else repr(1000.0 / rate_per_thread)
    lines = [
        'local ffi = require("ffi")',
        "ffi.cdef[[",
        "typedef struct { long tv_sec; long tv_nsec; } notify_timespec;",
        "int clock_gettime(int clk_id, notify_timespec *tp);",
        "]]",
        'local ts = ffi.new("notify_timespec")',
        "local function clock(id) ffi.C.clock_gettime(id, ts) return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) / 1e9 end",
        f"local tokens = {{\n{token_rows}\n}}",
        f"local interval_ms = {interval_ms}",
        f"local stop_after = {stop_after if stop_after else 'nil'}",
        "local next_at = nil",
        "local announced = false",
        "responses, created = 0, 0  -- globals: done() reads each thread's through thread:get",
        "local threads = {}",
        "function setup(thread) table.insert(threads, thread) end",
        "function init(args)",
        '  wrk.method = "POST"',
        f"  wrk.path = {_lua_string(path)}",
        f"  wrk.body = {_lua_string(body.decode())}",
        '  wrk.headers["Content-Type"] = "application/json"',
        "end",
        "local current, current_index = nil, 1",
        "function request()",
        "  if #tokens > 0 then",
        "    local now = clock(0)",
        "    while current_index < #tokens and tokens[current_index + 1][1] <= now do current_index = current_index + 1 end",
        '    wrk.headers["Authorization"] = "Bearer " .. tokens[current_index][2]',
        "  end",
        "  return wrk.format()",
        "end",
        "function response(status, headers, body)",
        "  responses = responses + 1",
        "  if status == 201 then created = created + 1 end",
        "  if stop_after and responses >= stop_after then",
        '    if not announced then announced = true; io.write("NOTIFY-BENCH-QUOTA\\n"); io.flush() end',
        "    wrk.thread:stop()",
        "  end",
        "end",
        "function done(summary, latency, requests)",
        "  local made = 0",
        '  for _, thread in ipairs(threads) do made = made + (thread:get("created") or 0) end',
        "  local e = summary.errors",
        '  io.write(string.format("NOTIFY-BENCH {\\"requests\\": %d, \\"created\\": %d, \\"duration_us\\": %d, '
        '\\"p50_us\\": %d, \\"p95_us\\": %d, \\"p99_us\\": %d, \\"max_us\\": %d, \\"socket_errors\\": %d}\\n",',
        "    summary.requests, made, summary.duration, latency:percentile(50), latency:percentile(95),",
        "    latency:percentile(99), latency.max, e.connect + e.read + e.write + e.timeout))",
        "end",
    ]
    if interval_ms != "nil":
        lines += [
            "function delay()",
            "  local now = clock(1) * 1000",
            "  if next_at == nil or next_at < now - 1000 then next_at = now end",
            "  next_at = next_at + interval_ms",
            "  local wait = next_at - now",
            "  if wait < 0 then return 0 end",
            "  return wait",
            "end",
        ]
    return "\n".join(lines) + "\n"


def run_wrk(
    url: str,
    *,
    path: str,
    body: bytes,
    seconds: float,
    connections: int,
    tokens: Iterable[tuple[int, str]] = (),
    rate: float | None = None,
    stop_after: int | None = None,
    threads: int = 1,
    timeout_s: int = 10,
) -> LoadResult:
    """Run wrk against ``url`` for ``seconds`` (or until ``stop_after`` responses in all) and return its figures."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(
            script(
                path=path,
                body=body,
                tokens=tokens,
                rate_per_thread=rate / threads if rate else None,
                stop_after=-(-stop_after // threads) if stop_after else None,
            )
        )
    try:
        argv = [
            wrk_binary(),
            f"--threads={threads}",
            f"--connections={connections}",
            f"--duration={max(1, round(seconds))}s",
            f"--timeout={timeout_s}s",
            f"--script={f.name}",
            url,
        ]
        # wrk's main thread sleeps for the whole duration even when every thread has stopped; the script says
        # when its quota is reached and SIGINT ends the sleep (wrk then reports as usual).
        child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines: list[str] = []
        assert child.stdout is not None
        for line in child.stdout:
            lines.append(line)
            if line.startswith("NOTIFY-BENCH-QUOTA"):
                child.send_signal(signal.SIGINT)
        try:
            child.wait(timeout=60)
        except subprocess.TimeoutExpired:
            child.kill()
            raise
        stderr = child.stderr.read() if child.stderr else ""
    finally:
        os.unlink(f.name)
    stdout = "".join(lines)
    line = next((ln for ln in lines if ln.startswith("NOTIFY-BENCH ")), None)
    if child.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({child.returncode}): {stderr.strip() or stdout.strip()}")
    data = json.loads(line.split(" ", 1)[1])
    return LoadResult(
        requests=data["requests"],
        created=data["created"],
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p95_ms=data["p95_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        socket_errors=data["socket_errors"],
    )
