"""What jobs reads from the notifications service: services, templates, users, and a job's stored notifications."""

from __future__ import annotations

import uuid
from typing import Any

import httpx


class NotificationsUnavailable(Exception):
    """The notifications service could not be asked (answers 503 to the admin; processing retries)."""


class NotificationsClient:
    def __init__(self, base_url: str, *, timeout: float) -> None:
        self._http = httpx.AsyncClient(base_url=base_url, timeout=timeout)

    async def _get(self, path: str, params: Any = None) -> Any:
        try:
            response = await self._http.get(path, params=params)
        except httpx.HTTPError as exc:
            raise NotificationsUnavailable(type(exc).__name__) from exc
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise NotificationsUnavailable(f"{path.split('/')[1]} answered {response.status_code}")
        return response.json()

    async def service(self, service_id: uuid.UUID) -> dict[str, Any] | None:
        """The service with its permissions, limits, senders, team and guest list (no API keys)."""
        return await self._get(f"/internal/services/{service_id}/auth", {"keys": "false"})  # type: ignore[no-any-return]

    async def template(
        self, service_id: uuid.UUID, template_id: uuid.UUID, version: int | None = None
    ) -> dict[str, Any] | None:
        params = {"version": version} if version else None
        return await self._get(f"/internal/services/{service_id}/templates/{template_id}", params)  # type: ignore[no-any-return]

    async def user(self, user_id: uuid.UUID) -> dict[str, Any] | None:
        found = await self._get(f"/user/{user_id}")
        return found.get("data") if isinstance(found, dict) else None

    async def job_notifications(
        self, service_id: uuid.UUID, job_id: uuid.UUID, params: list[tuple[str, str]]
    ) -> dict[str, Any]:
        path = f"/internal/services/{service_id}/jobs/{job_id}/notifications"
        try:
            response = await self._http.get(path, params=params)
        except httpx.HTTPError as exc:
            raise NotificationsUnavailable(type(exc).__name__) from exc
        if response.status_code >= 500:
            raise NotificationsUnavailable(f"notifications answered {response.status_code}")
        return {"status_code": response.status_code, "body": response.json()}

    async def job_count(self, service_id: uuid.UUID, job_id: uuid.UUID) -> int:
        found = await self._get(f"/internal/services/{service_id}/jobs/{job_id}/count")
        return int(found["count"]) if found else 0

    async def aclose(self) -> None:
        await self._http.aclose()
