"""Reading a request body no larger than a limit.

``await request.body()`` holds a body of any size in memory before it can be measured. Here a body is refused on its
declared ``Content-Length`` before any of it is read, and, when it declares none (chunked), as soon as what has
arrived passes the limit.
"""

from __future__ import annotations

from starlette.requests import Request

from ..domain.errors import body_too_large


async def read_limited(request: Request, limit: int) -> bytes:
    """The body, or ``V2Error`` 413 (``Request body is too large: the limit is <limit> bytes``) once it is known to
    be longer than ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise body_too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise body_too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)
