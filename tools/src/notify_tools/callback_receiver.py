"""A real HTTP endpoint for tests of service callbacks: it records every request and answers each path from a script.

with CallbackReceiver() as receiver:
    receiver.script("/status", 500, 429, 200)   # the first three answers on that path; then 200
    receiver.script("/slow", ("sleep", 7))      # wait 7 s before answering 200 (a timeout for the caller)
    url = receiver.url("/status")
    ...
    (first, *_) = receiver.wait_for("/status", 3)
    first.json, first.headers["authorization"]
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = int | tuple[str, float]


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    at: float  # time.monotonic()

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class CallbackReceiver:
    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._received: dict[str, list[Received]] = defaultdict(list)
        self._scripts: dict[str, list[Answer]] = defaultdict(list)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path = self.path.split("?", 1)[0]
                answer = receiver._record(
                    Received(
                        "POST", path, {k.lower(): v for k, v in self.headers.items()}, body, time.monotonic()
                    )
                )
                if isinstance(answer, tuple):
                    time.sleep(answer[1])
                    answer = 200
                self.send_response(answer)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (quiet)
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def script(self, path: str, *answers: Answer) -> None:
        """The next answers on ``path``, in order (a status code, or ``("sleep", seconds)`` then 200); 200 after."""
        with self._lock:
            self._scripts[path].extend(answers)

    def _record(self, request: Received) -> Answer:
        with self._lock:
            self._received[request.path].append(request)
            self._lock.notify_all()
            script = self._scripts[request.path]
            return script.pop(0) if script else 200

    def requests(self, path: str) -> list[Received]:
        with self._lock:
            return list(self._received[path])

    def wait_for(self, path: str, count: int, timeout: float = 30.0) -> list[Received]:
        """The first ``count`` requests on ``path``, waiting up to ``timeout`` seconds for them."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self._received[path]) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"{len(self._received[path])} of {count} requests on {path} after {timeout:.0f}s"
                    )
                self._lock.wait(left)
            return list(self._received[path][:count])

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> CallbackReceiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
