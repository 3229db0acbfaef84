"""A request body is refused at 413 before it is all held in memory: on its declared length before any of it is
read, and, without one, as soon as what has arrived passes the limit."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from notify_gateway.domain.errors import V2Error
from notify_gateway.entrypoints.bodies import read_limited
from starlette.requests import Request

Receive = Callable[[], Awaitable[dict[str, Any]]]
TOO_LARGE = {
    "status_code": 413,
    "errors": [{"error": "BadRequestError", "message": "Request body is too large: the limit is 100 bytes"}],
}


def _request(receive: Receive, content_length: int | None = None) -> Request:
    headers = [] if content_length is None else [(b"content-length", str(content_length).encode())]
    scope = {"type": "http", "method": "POST", "path": "/", "query_string": b"", "headers": headers}
    return Request(scope, receive)


def _chunks(*parts: bytes, then_wait: bool = False) -> tuple[Receive, list[int]]:
    """A receive callable handing out ``parts`` (then waiting forever if asked); the list counts the reads."""
    reads: list[int] = []

    async def receive() -> dict[str, Any]:
        reads.append(1)
        if len(reads) <= len(parts):
            more = then_wait or len(reads) < len(parts)
            return {"type": "http.request", "body": parts[len(reads) - 1], "more_body": more}
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    return receive, reads


async def test_a_body_within_the_limit_is_read_whole() -> None:
    receive, _ = _chunks(b"x" * 60, b"y" * 40)
    assert await read_limited(_request(receive, 100), 100) == b"x" * 60 + b"y" * 40
    receive, _ = _chunks(b"x" * 60, b"y" * 40)
    assert await read_limited(_request(receive), 100) == b"x" * 60 + b"y" * 40


async def test_a_declared_length_over_the_limit_is_refused_before_anything_is_read() -> None:
    receive, reads = _chunks(b"x" * 10, then_wait=True)  # a client that would then send slowly, or never
    with pytest.raises(V2Error) as refused:
        await asyncio.wait_for(read_limited(_request(receive, 10**9), 100), timeout=2)
    assert refused.value.body() == TOO_LARGE
    assert reads == []


async def test_without_a_declared_length_reading_stops_once_past_the_limit() -> None:
    receive, reads = _chunks(b"x" * 60, b"y" * 60, then_wait=True)  # chunked, and endless after that
    with pytest.raises(V2Error) as refused:
        await asyncio.wait_for(read_limited(_request(receive), 100), timeout=2)
    assert refused.value.body() == TOO_LARGE
    assert len(reads) == 2
