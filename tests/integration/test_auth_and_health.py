"""Health and readiness of every process; the documented 401/403 answers for bad tokens on both route families.
The JWT matrix against real services (algorithms, clock, iss, archived, another service's key) is in
test_security.py."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from notify_gateway.auth import create_jwt
from notify_tools.launcher import RunningStack

LONG_MESSAGE = (
    "Invalid token: make sure your API token matches the example at "
    "https://docs.notifications.service.gov.uk/rest-api.html#authorisation-header"
)


def test_every_process_is_live_and_ready_with_real_checks(stack: RunningStack) -> None:
    status = httpx.get(f"{stack.base_url}/_status", timeout=5)
    assert status.status_code == 200
    for name, (proc, _) in stack.procs.items():
        if proc.health_path != "/health/ready":
            continue
        live = httpx.get(f"http://127.0.0.1:{proc.port}/health/live", timeout=5)
        ready = httpx.get(f"http://127.0.0.1:{proc.port}/health/ready", timeout=5)
        assert live.status_code == 200, name
        assert ready.status_code == 200, (name, ready.text)
        checks = ready.json()["checks"]
        assert checks.get("broker") == "ok", name
        if name == "gateway":
            assert checks.get("redis") == "ok"
        else:
            assert checks.get("database") == "ok", name


@pytest.mark.parametrize(
    ("header", "status", "message"),
    [
        (None, 401, "Unauthorized: authentication token must be provided"),
        ("Basic abc", 401, "Unauthorized: authentication bearer scheme must be used"),
        ("Bearer not-a-jwt", 403, LONG_MESSAGE),
    ],
)
def test_v2_requests_without_a_valid_token_get_the_documented_error(
    stack: RunningStack, header: str | None, status: int, message: str
) -> None:
    headers = {"Authorization": header} if header else {}
    response = httpx.get(
        f"{stack.base_url}/v2/notifications/{'0' * 8}-0000-0000-0000-{'0' * 12}", headers=headers
    )
    assert response.status_code == status
    assert response.json() == {"status_code": status, "errors": [{"error": "AuthError", "message": message}]}


def test_admin_routes_refuse_missing_and_service_tokens(stack: RunningStack, demo: dict[str, Any]) -> None:
    url = f"{stack.base_url}/service/{demo['service_id']}"
    missing = httpx.get(url)
    assert missing.status_code == 401
    assert missing.json() == {
        "result": "error",
        "message": {"token": ["Unauthorized: authentication token must be provided"]},
    }
    service_token = create_jwt(demo["service_id"], demo["api_keys"]["normal"][-36:])
    refused = httpx.get(url, headers={"Authorization": f"Bearer {service_token}"})
    assert refused.status_code == 401
    assert refused.json()["message"] == {"token": ["Unauthorized: not allowed to perform this action"]}
    wrong_secret = httpx.get(url, headers={"Authorization": f"Bearer {create_jwt('notify-admin', 'x' * 32)}"})
    assert wrong_secret.status_code == 403
    assert wrong_secret.json()["message"] == {"token": ["Invalid token: API key not found"]}
    admin = httpx.get(
        url, headers={"Authorization": f"Bearer {create_jwt('notify-admin', stack.admin_secret)}"}
    )
    assert admin.status_code == 200
    assert admin.json()["data"]["id"] == demo["service_id"]
    assert admin.json()["data"]["restricted"] is False
