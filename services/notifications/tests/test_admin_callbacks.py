"""A service's callback configuration (admin-api.md §11): one per kind, token encrypted and never shown."""

from __future__ import annotations

import dataclasses
import uuid

import pytest
from fastapi.testclient import TestClient
from notify_notifications.adapters.tables import service_callback_api
from notify_notifications.settings import Settings
from notify_platform.db import Database
from sqlalchemy import select

from .admin_helpers import error, new_service, new_user

pytestmark = pytest.mark.integration


def test_callback_configuration(admin: TestClient, admin_db: Database) -> None:
    owner = new_user(admin)
    sid = new_service(admin, owner)["id"]
    base = f"/service/{sid}/callback-api"
    body = {
        "url": "https://service.example.gov.uk/callbacks",
        "bearer_token": "a-long-secret-token",
        "updated_by_id": owner["id"],
        "callback_type": "delivery_status",
    }
    created = admin.post(base, json=body)
    assert created.status_code == 201, created.text
    callback = created.json()["data"]
    assert callback["url"] == body["url"] and "bearer_token" not in callback
    assert "a-long-secret-token" not in created.text
    with admin_db.engine.connect() as conn:
        stored = conn.execute(select(service_callback_api.c.bearer_token_encrypted)).scalar_one()
    assert b"a-long-secret-token" not in bytes(stored)
    service = admin.get(f"/service/{sid}").json()["data"]
    assert service["service_callback_api"] == [
        {"callback_id": callback["id"], "callback_type": "delivery_status"}
    ]
    assert error(admin.post(base, json=body), 400) == {
        "name": ["You can only have one URL and bearer token for your service."]
    }
    inbound = admin.post(base, json={**body, "callback_type": "inbound_sms"})
    assert inbound.status_code == 201

    path = f"{base}/{callback['id']}"
    changed = admin.post(
        path, json={"updated_by_id": owner["id"], "url": "https://elsewhere.example.gov.uk/cb"}
    )
    assert (
        changed.status_code == 200 and changed.json()["data"]["url"] == "https://elsewhere.example.gov.uk/cb"
    )
    assert admin.get(path, params={"callback_type": "delivery_status"}).json()["data"]["id"] == callback["id"]
    assert (
        error(admin.get(path, params={"callback_type": "inbound_sms"}), 404)
        == "Service inbound API not found"
    )
    assert admin.delete(path, params={"callback_type": "delivery_status"}).status_code == 204
    assert error(admin.get(path), 404) == "Service delivery receipt API not found"


def test_callback_validation_in_the_v2_shape(admin: TestClient) -> None:
    owner = new_user(admin)
    sid = new_service(admin, owner)["id"]
    bad = admin.post(
        f"/service/{sid}/callback-api",
        json={"url": "http://insecure.example", "bearer_token": "short", "updated_by_id": owner["id"]},
    )
    assert bad.status_code == 400
    assert bad.json() == {
        "status_code": 400,
        "errors": [
            {"error": "ValidationError", "message": "url is not a valid https url"},
            {"error": "ValidationError", "message": "bearer_token must be at least 10 characters"},
        ],
    }
    assert "short" not in bad.text
    stranger = {
        "url": "https://x.example.gov.uk",
        "bearer_token": "long-enough-token",
        "updated_by_id": str(uuid.uuid4()),
    }
    assert error(admin.post(f"/service/{sid}/callback-api", json=stranger), 400)["updated_by_id"]
    assert error(
        admin.post(f"/service/{uuid.uuid4()}/callback-api", json={**stranger, "updated_by_id": owner["id"]}),
        404,
    )


def test_development_settings_also_take_plain_http_for_a_local_receiver(admin: TestClient) -> None:
    owner = new_user(admin)
    sid = new_service(admin, owner)["id"]
    body = {
        "url": "http://127.0.0.1:9999/cb",
        "bearer_token": "long-enough-token",
        "updated_by_id": owner["id"],
    }
    assert admin.post(f"/service/{sid}/callback-api", json=body).status_code == 400  # production's rule
    context = admin.app.state.context  # type: ignore[attr-defined]
    development = context.settings.model_copy(
        update={"callback_allow_http": None, "environment": "development"}
    )
    admin.app.state.context = dataclasses.replace(context, settings=development)  # type: ignore[attr-defined]
    try:
        created = admin.post(f"/service/{sid}/callback-api", json=body)
    finally:
        admin.app.state.context = context  # type: ignore[attr-defined]
    assert created.status_code == 201, created.text
    assert created.json()["data"]["url"] == "http://127.0.0.1:9999/cb"


@pytest.mark.parametrize(
    "url",
    [
        "https://example.gov.uk:99999/cb",
        "https://example.gov.uk:abc/cb",
        "https://[::1/cb",
        "https:///cb",
        "cb",
    ],
)
def test_a_url_that_cannot_be_called_is_refused_not_a_server_error(admin: TestClient, url: str) -> None:
    owner = new_user(admin)
    sid = new_service(admin, owner)["id"]
    body = {"url": url, "bearer_token": "long-enough-token", "updated_by_id": owner["id"]}
    answer = admin.post(f"/service/{sid}/callback-api", json=body)
    assert answer.status_code == 400
    assert answer.json()["errors"] == [
        {"error": "ValidationError", "message": "url is not a valid https url"}
    ]


def test_production_settings_refuse_plain_http_callbacks() -> None:
    strict = {"environment": "production", "notify_secret_keys": "a-production-secret-key"}
    assert Settings(**strict).callback_http_allowed is False
    assert Settings(**strict).callback_networks == ""
    with pytest.raises(ValueError, match="CALLBACK_ALLOW_HTTP"):
        Settings(**strict, callback_allow_http=True)
