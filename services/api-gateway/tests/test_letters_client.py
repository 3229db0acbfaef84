"""The gateway's client of delivery-letter: what each answer of the internal PDF API becomes."""

from __future__ import annotations

import uuid

import httpx
import pytest
from notify_gateway.adapters.internal_client import InternalUnavailable
from notify_gateway.adapters.letters_client import LettersClient, PdfTooLarge

SERVICE, LETTER = uuid.uuid4(), uuid.uuid4()


def client(answer: httpx.Response | Exception, seen: list[httpx.Request] | None = None) -> LettersClient:
    def handle(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        if isinstance(answer, Exception):
            raise answer
        return answer

    letters = LettersClient("http://letters", timeout=1)
    letters.http = httpx.AsyncClient(base_url="http://letters", transport=httpx.MockTransport(handle))
    return letters


async def test_upload_puts_the_raw_pdf_for_the_service() -> None:
    seen: list[httpx.Request] = []
    await client(httpx.Response(201), seen).upload_pdf(SERVICE, LETTER, b"%PDF-1.7")
    (request,) = seen
    assert (request.method, request.url.path) == ("PUT", f"/internal/letters/{LETTER}/pdf")
    assert request.url.params["service_id"] == str(SERVICE)
    assert (request.content, request.headers["content-type"]) == (b"%PDF-1.7", "application/pdf")


@pytest.mark.parametrize(
    ("answer", "raised"),
    [
        (httpx.Response(413), PdfTooLarge),
        (httpx.Response(409), InternalUnavailable),
        (httpx.Response(503), InternalUnavailable),
        (httpx.ConnectError("refused"), InternalUnavailable),
    ],
)
async def test_upload_refusals(answer: httpx.Response | Exception, raised: type[Exception]) -> None:
    with pytest.raises(raised):
        await client(answer).upload_pdf(SERVICE, LETTER, b"%PDF")


async def test_pdf_is_the_body_none_while_there_is_none_and_unavailable_otherwise() -> None:
    assert await client(httpx.Response(200, content=b"%PDF-x")).pdf(SERVICE, LETTER) == b"%PDF-x"
    assert await client(httpx.Response(404)).pdf(SERVICE, LETTER) is None
    for answer in (httpx.Response(500), httpx.ReadTimeout("slow")):
        with pytest.raises(InternalUnavailable):
            await client(answer).pdf(SERVICE, LETTER)
