"""A small admin API client: signs a fresh ``notify-admin`` JWT for every request, as Notify's admin app does."""

from __future__ import annotations

import time
from typing import Any

import httpx
import jwt


class AdminApiError(Exception):
    def __init__(self, status_code: int, body: Any) -> None:
        super().__init__(f"{status_code}: {body}")
        self.status_code = status_code
        self.body = body


class AdminClient:
    def __init__(
        self, base_url: str, secret: str, *, client_id: str = "notify-admin", timeout: float = 30
    ) -> None:
        self.client_id = client_id
        self.secret = secret
        self.http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout)

    def _headers(self) -> dict[str, str]:
        token = jwt.encode({"iss": self.client_id, "iat": int(time.time())}, self.secret, algorithm="HS256")
        return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def request(self, method: str, path: str, json: Any = None, params: dict[str, Any] | None = None) -> Any:
        response = self.http.request(method, path, json=json, params=params, headers=self._headers())
        body = response.json() if response.content else None
        if response.status_code >= 400:
            raise AdminApiError(response.status_code, body)
        return body

    def post(self, path: str, json: Any = None) -> Any:
        return self.request("POST", path, json)

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.request("GET", path, params=params)

    def put(self, path: str, json: Any = None) -> Any:
        return self.request("PUT", path, json)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

    def put_pdf(self, path: str, pdf: bytes) -> Any:
        headers = {**self._headers(), "Content-Type": "application/pdf"}
        response = self.http.put(path, content=pdf, headers=headers)
        body = response.json() if response.content else None
        if response.status_code >= 400:
            raise AdminApiError(response.status_code, body)
        return body

    def upload(self, path: str, file_name: str | None, content: bytes | None, **fields: str) -> Any:
        """A multipart form (a spreadsheet for a job or a contact list): the file as ``file``, plus form fields;
        with no file (a job upload made from a saved contact list) the fields alone, still as multipart."""
        headers = {k: v for k, v in self._headers().items() if k != "Content-Type"}
        parts: dict[str, Any] = {name: (None, value) for name, value in fields.items()}
        if file_name is not None:
            parts["file"] = (file_name, content or b"")
        response = self.http.post(path, files=parts, headers=headers)
        body = response.json() if response.content else None
        if response.status_code >= 400:
            raise AdminApiError(response.status_code, body)
        return body

    def close(self) -> None:
        self.http.close()
