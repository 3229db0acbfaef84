"""Start the whole stack as subprocesses on free ports (integration tests, benchmarks), and stop it cleanly.

Each process writes its JSON log lines to ``<log_dir>/<name>.log`` so tests can follow correlation ids and
check that no personal data was logged.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from .stack import MIGRATING, Ports, Proc, processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(url: str, child: subprocess.Popen[bytes], *, timeout: float) -> None:
    """Poll ``url`` until it answers 200; raise ``RuntimeError`` if ``child`` exits first, ``TimeoutError`` after
    ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if child.poll() is not None:
            raise RuntimeError(f"exited with {child.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"not ready at {url} after {timeout:.0f}s")
        time.sleep(0.2)


def free_ports() -> Ports:
    return Ports(**{name: free_port() for name in Ports.__dataclass_fields__})


@dataclass
class RunningStack:
    ports: Ports
    env: dict[str, str]
    log_dir: Path
    admin_secret: str
    procs: dict[str, tuple[Proc, subprocess.Popen[bytes]]] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.gateway}"

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.procs[name][0].port}"

    def tail(self, name: str, lines: int = 30) -> str:
        path = self.log_dir / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.log_dir.glob("*.log")))

    def start(self, name: str) -> None:
        self.start_proc(next(p for p in processes(self.ports) if p.name == name))

    def start_proc(self, proc: Proc) -> None:
        """Start a process that may not be in the stack's list (a second role of a service, say)."""
        name = proc.name
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - owned by the child for its lifetime
        child = subprocess.Popen(
            list(proc.argv),
            env={**self.env, **proc.env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs[name] = (proc, child)

    def wait_ready(self, names: list[str] | None = None, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        for name in names or list(self.procs):
            proc, child = self.procs[name]
            url = f"http://127.0.0.1:{proc.port}{proc.health_path}"
            try:
                wait_healthy(url, child, timeout=max(0.0, deadline - time.monotonic()))
            except RuntimeError as exc:
                raise RuntimeError(f"{name}: {exc}:\n{self.tail(name)}") from None
            except TimeoutError as exc:
                raise TimeoutError(f"{name}: {exc}:\n{self.tail(name)}") from None

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = 30) -> int | None:
        _, child = self.procs[name]
        if child.poll() is None:
            child.send_signal(sig)
            try:
                child.wait(timeout)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        return child.returncode

    def stop_all(self) -> None:
        for name in reversed(list(self.procs)):
            self.stop(name)


# Letters in the test stack: collected every second, and slow enough at the print simulator (answered 1 s after it
# took the batch, receipts 1.5 s later) that a test can stop delivery-letter mid-upload. The lease outlives the
# upload timeout, so a killed worker's batch is retried, with the same idempotency key, about 6 s later.
TEST_LETTER_ENV = {
    "LETTER_BATCH_INTERVAL_SECONDS": "1",
    "PRINT_UPLOAD_TIMEOUT_SECONDS": "5",
    "PRINT_UPLOAD_LEASE_SECONDS": "6",
    "PRINT_UPLOAD_RETRY_DELAY_SECONDS": "1",
    "PRINT_SIM_LATENCY_MS": "1000",
    "PRINT_SIM_DESPATCH_DELAY_MS": "1500",
    "PRINT_SIM_RETURN_DELAY_MS": "1500",
}


def launch(
    infra_env: dict[str, str],
    log_dir: Path,
    *,
    extra_env: dict[str, str] | None = None,
    only: tuple[str, ...] | None = None,
) -> RunningStack:
    """Migrate every database, declare every queue, then start every process (or those named in ``only``) and
    wait until all are ready."""
    log_dir.mkdir(parents=True, exist_ok=True)
    admin_secret = secrets.token_urlsafe(32)
    env = {
        **os.environ,
        **infra_env,
        "ENVIRONMENT": "test",
        "NOTIFY_ADMIN_CLIENT_SECRET": admin_secret,
        "NOTIFY_SECRET_KEYS": secrets.token_urlsafe(32),
        "PYTHONUNBUFFERED": "1",
        **TEST_LETTER_ENV,
        **(extra_env or {}),
    }
    migrations = [
        subprocess.Popen(
            [sys.executable, "-m", module, "migrate"],
            env=env,
            stdout=open(log_dir / f"migrate-{module}.log", "wb"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
        )
        for module in MIGRATING
    ]
    for child, module in zip(migrations, MIGRATING, strict=True):
        if child.wait(timeout=180) != 0:
            raise RuntimeError(f"migration of {module} failed; see {log_dir}/migrate-{module}.log")
    stack = RunningStack(ports=free_ports(), env=env, log_dir=log_dir, admin_secret=admin_secret)
    try:
        for proc in processes(stack.ports):
            if only is None or proc.name in only:
                stack.start(proc.name)
        stack.wait_ready()
    except BaseException:
        stack.stop_all()
        raise
    return stack
