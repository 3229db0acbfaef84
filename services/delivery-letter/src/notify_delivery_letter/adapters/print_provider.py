"""The print provider adapter: one HTTPS upload per print batch (protocol: ``print_wire``).

The batch id is the upload's idempotency key, so a retried upload — after a timeout, a crash, or a lease that ran
out — is answered with the first upload's result and nothing is printed twice. Errors carry the provider name, the
HTTP status and the provider's short reason only, never letter content or addresses.

Each upload is counted in ``notify_provider_calls_total`` (by the provider's name; outcome ok, rejected: refused for
good, error: may go through if sent again, timeout) and timed in ``notify_provider_call_seconds``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import httpx
from notify_platform.metrics import ProviderCallMetrics, provider_outcome

from .print_wire import BATCH_PATH, IDEMPOTENCY_HEADER, REPLAYED_HEADER


class PrintProviderError(Exception):
    """An upload the provider did not accept. ``retryable``: timeouts, connection errors, 5xx, 408 and 429.
    ``timed_out``: the provider did not answer in time."""

    def __init__(
        self, message: str, *, retryable: bool, status_code: int | None = None, timed_out: bool = False
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status_code = status_code
        self.timed_out = timed_out

    @property
    def outcome(self) -> str:
        """How ``notify_provider_calls_total`` counts it."""
        return provider_outcome(retryable=self.retryable, timed_out=self.timed_out)


@dataclass(frozen=True)
class UploadResult:
    batch_reference: str
    references: dict[str, str]  # notification id -> the provider's reference for that letter
    replayed: bool = False


class PrintProvider(Protocol):
    name: str

    async def upload(self, batch_id: str, archive: bytes) -> UploadResult: ...

    async def aclose(self) -> None: ...


def is_retryable_status(status_code: int) -> bool:
    return status_code >= 500 or status_code in (408, 429)


class HttpPrintProvider:
    """``client``: an ``httpx.AsyncClient`` to use as is (and leave open); by default one is made on first use."""

    def __init__(
        self,
        *,
        name: str,
        base_url: str,
        username: str,
        password: str,
        timeout: float = 120.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self._auth = httpx.BasicAuth(username, password)
        self._timeout = timeout
        self._client = client
        self._owns_client = client is None
        self._metrics = ProviderCallMetrics(name)

    def _http(self) -> httpx.AsyncClient:
        # Made on first use, inside the running event loop.
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._timeout, trust_env=False, follow_redirects=False)
        return self._client

    async def upload(self, batch_id: str, archive: bytes) -> UploadResult:
        with self._metrics.call():
            return await self._upload(batch_id, archive)

    async def _upload(self, batch_id: str, archive: bytes) -> UploadResult:
        try:
            response = await self._http().post(
                self.base_url + BATCH_PATH,
                content=archive,
                auth=self._auth,
                headers={IDEMPOTENCY_HEADER: batch_id, "Content-Type": "application/zip"},
            )
        except httpx.TimeoutException as exc:
            raise PrintProviderError(
                f"{self.name} upload: timed out ({type(exc).__name__})", retryable=True, timed_out=True
            ) from None
        except httpx.HTTPError as exc:
            raise PrintProviderError(
                f"{self.name} upload: connection failed ({type(exc).__name__})", retryable=True
            ) from None
        if response.status_code not in (200, 201):
            reason = _reason(response)
            raise PrintProviderError(
                f"{self.name} upload: HTTP {response.status_code}" + (f" ({reason})" if reason else ""),
                retryable=is_retryable_status(response.status_code),
                status_code=response.status_code,
            )
        try:
            data = response.json()
            references = {str(x["notification_id"]): str(x["reference"]) for x in data["letters"]}
            batch_reference = str(data["batch_reference"])
        except (ValueError, KeyError, TypeError):
            # Accepted but unreadable: asking again with the same key returns the same answer.
            raise PrintProviderError(f"{self.name} upload: unreadable answer", retryable=True) from None
        return UploadResult(
            batch_reference, references, replayed=response.headers.get(REPLAYED_HEADER) == "true"
        )

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None and self._owns_client:
            await client.aclose()


def _reason(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return ""
    return str(data.get("error", ""))[:200] if isinstance(data, dict) else ""
