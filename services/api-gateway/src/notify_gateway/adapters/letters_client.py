"""The gateway's calls to delivery-letter, which holds every letter's PDF (rendered or uploaded)."""

from __future__ import annotations

import uuid

import httpx

from .internal_client import InternalUnavailable, send


class LettersClient:
    def __init__(self, base_url: str, *, timeout: float) -> None:
        self.http = httpx.AsyncClient(base_url=base_url, timeout=timeout)

    async def upload_pdf(self, service_id: uuid.UUID, notification_id: uuid.UUID, pdf: bytes) -> None:
        """Hand a precompiled letter's PDF over before the letter is announced (so it is there when needed)."""
        response = await send(
            self.http,
            "PUT",
            f"/internal/letters/{notification_id}/pdf",
            params={"service_id": str(service_id)},
            content=pdf,
            headers={"content-type": "application/pdf"},
        )
        if response.status_code == 413:
            raise PdfTooLarge
        if response.status_code >= 400:
            raise InternalUnavailable(f"delivery-letter answered {response.status_code}")

    async def pdf(self, service_id: uuid.UUID, notification_id: uuid.UUID) -> bytes | None:
        """The letter's PDF, or None while there is none (not rendered yet, or never will be)."""
        response = await send(
            self.http,
            "GET",
            f"/internal/letters/{notification_id}/pdf",
            params={"service_id": str(service_id)},
        )
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise InternalUnavailable(f"delivery-letter answered {response.status_code}")
        return response.content

    async def aclose(self) -> None:
        await self.http.aclose()


class PdfTooLarge(Exception):
    """delivery-letter refused the PDF for its size."""
