"""Factories and checks for the admin route tests."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from fastapi.testclient import TestClient


def error(response: Any, status: int) -> Any:
    """The ``message`` of an admin error answer, after checking its status and envelope."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["result"] == "error"
    return body["message"]


def new_user(admin: TestClient, **overrides: Any) -> dict[str, Any]:
    body = {
        "name": "Test User",
        "email_address": f"user-{secrets.token_hex(4)}@example.gov.uk",
        "password": "a-long-password",
        "mobile_number": "07700900123",
        **overrides,
    }
    response = admin.post("/user", json=body)
    assert response.status_code == 201, response.text
    return response.json()["data"]  # type: ignore[no-any-return]


def new_service(admin: TestClient, user: dict[str, Any] | None = None, **overrides: Any) -> dict[str, Any]:
    user = user or new_user(admin)
    body = {"name": f"Service {uuid.uuid4().hex[:8]}", "user_id": user["id"], **overrides}
    response = admin.post("/service", json=body)
    assert response.status_code == 201, response.text
    return response.json()["data"]  # type: ignore[no-any-return]
