"""The notifications service's internal document store, as the send path uses it (synchronously)."""

from __future__ import annotations

from typing import Any

import httpx

from ..domain.files import DocumentRejected, DocumentStoreUnavailable


class HttpDocumentStore:
    def __init__(self, base_url: str, *, timeout: float) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=timeout)

    def upload(self, service_id: str, document: dict[str, Any]) -> dict[str, Any]:
        try:
            response = self.http.post(f"/internal/services/{service_id}/documents", json=document)
        except httpx.HTTPError as exc:
            raise DocumentStoreUnavailable(type(exc).__name__) from exc
        if response.status_code in (400, 413):
            message = response.json().get("message")
            raise DocumentRejected(message if isinstance(message, str) else "File could not be stored")
        if response.status_code >= 500:
            raise DocumentStoreUnavailable(f"notifications answered {response.status_code}")
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]

    def close(self) -> None:
        self.http.close()
