"""The print provider adapter's answers, over a stand-in transport: what it returns, what it raises, and how each
upload is counted (``notify_provider_calls_total``) and timed (``notify_provider_call_seconds``)."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from notify_delivery_letter.adapters.print_provider import HttpPrintProvider, PrintProviderError
from notify_delivery_letter.adapters.print_wire import BATCH_PATH, IDEMPOTENCY_HEADER
from prometheus_client import REGISTRY


def _answer(request: httpx.Request) -> httpx.Response:
    batch = request.headers[IDEMPOTENCY_HEADER]
    assert request.url.path == BATCH_PATH
    if batch == "refuse":
        return httpx.Response(422, json={"error": "bad manifest"})
    if batch == "busy":
        return httpx.Response(503)
    if batch == "garbled":
        return httpx.Response(201, content=b"not json")
    if batch == "slow":
        raise httpx.ReadTimeout("no answer", request=request)
    if batch == "unreachable":
        raise httpx.ConnectError("refused", request=request)
    body = {"batch_reference": "B-1", "letters": [{"notification_id": "n-1", "reference": "R-1"}]}
    return httpx.Response(201, content=json.dumps(body).encode())


async def test_uploads_are_answered_classified_counted_by_outcome_and_timed() -> None:
    name = f"printer-{uuid.uuid4().hex[:8]}"  # labels of this test's own

    def calls(outcome: str) -> float:
        return (
            REGISTRY.get_sample_value("notify_provider_calls_total", {"provider": name, "outcome": outcome})
            or 0
        )

    async with httpx.AsyncClient(transport=httpx.MockTransport(_answer)) as client:
        provider = HttpPrintProvider(
            name=name, base_url="http://printer", username="u", password="p", client=client
        )
        result = await provider.upload("ok", b"zip")
        assert (result.batch_reference, result.references) == ("B-1", {"n-1": "R-1"})
        expected = {"refuse": False, "busy": True, "garbled": True, "slow": True, "unreachable": True}
        for batch, retryable in expected.items():
            with pytest.raises(PrintProviderError) as failed:
                await provider.upload(batch, b"zip")
            assert failed.value.retryable is retryable, batch
        await provider.aclose()
    assert {o: calls(o) for o in ("ok", "rejected", "error", "timeout")} == {
        "ok": 1,
        "rejected": 1,
        "error": 3,  # 503, an unreadable answer, no connection
        "timeout": 1,
    }
    assert REGISTRY.get_sample_value("notify_provider_call_seconds_count", {"provider": name}) == 6
