"""The platform's own service is made on first use even when a team already took its name."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from .admin_helpers import new_service, new_user

pytestmark = pytest.mark.integration


def test_first_use_after_a_team_took_the_platform_services_name(admin: TestClient) -> None:
    owner = new_user(admin)
    new_service(admin, owner, name="Notify platform")
    assert admin.post(f"/user/{owner['id']}/sms-code", json={}).status_code == 204
    names = [s["name"] for s in admin.get("/service").json()["data"]]
    assert "Notify platform" in names and any(n.startswith("Notify platform (") for n in names)
