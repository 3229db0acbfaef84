"""The internal admin routes for provider priorities, against real PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI
from notify_delivery_sms.adapters.tables import metadata
from notify_delivery_sms.domain.priorities import Rules
from notify_delivery_sms.entrypoints import providers as provider_routes
from notify_delivery_sms.handlers.failover import Failover
from notify_delivery_sms.handlers.send import ProviderPool
from notify_platform.db import Database
from notify_tools.testing import Infra, scratch_database

pytestmark = pytest.mark.integration


@pytest.fixture
def db(infra: Infra) -> Iterator[Database]:
    with scratch_database(infra, metadata, "sms_routes") as database:
        yield database


@pytest.fixture
async def client(db: Database) -> AsyncIterator[httpx.AsyncClient]:
    pool = ProviderPool({"mmg": object(), "firetext": object()}, [])  # type: ignore[dict-item]
    failover = Failover(
        db,
        pool,
        resting={"mmg": 51, "firetext": 49},
        international={"mmg": True, "firetext": False},
        rules=Rules(),
    )
    app = FastAPI()
    app.include_router(provider_routes.router)
    app.state.context = SimpleNamespace(failover=failover)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sms") as c:
        yield c


async def test_priorities_and_history_can_be_read(client: httpx.AsyncClient) -> None:
    body = (await client.get("/internal/providers")).json()
    assert [
        (p["name"], p["priority"], p["active"], p["resting_priority"], p["share_percent"])
        for p in body["providers"]
    ] == [
        ("firetext", 49, True, 49, {"uk": 49.0, "international": 0.0}),
        ("mmg", 51, True, 51, {"uk": 51.0, "international": 100.0}),
    ]
    assert sorted((h["provider"], h["priority"], h["reason"]) for h in body["history"]) == [
        ("firetext", 49, "initial"),
        ("mmg", 51, "initial"),
    ]


async def test_an_admin_sets_a_priority_by_hand_and_it_is_recorded(client: httpx.AsyncClient) -> None:
    response = await client.post("/internal/providers/mmg", json={"priority": 10})
    assert response.status_code == 200
    provider = response.json()["provider"]
    assert (provider["name"], provider["priority"], provider["active"]) == ("mmg", 10, True)
    assert provider["share_percent"]["uk"] == round(100 * 10 / 59, 1)
    assert provider["updated_at"] is not None

    body = (await client.get("/internal/providers", params={"history": 1})).json()
    assert {p["name"]: p["priority"] for p in body["providers"]} == {"mmg": 10, "firetext": 49}
    [latest] = body["history"]
    assert (latest["provider"], latest["previous_priority"], latest["priority"], latest["reason"]) == (
        "mmg",
        51,
        10,
        "manual",
    )


async def test_a_provider_can_be_switched_off_by_hand(client: httpx.AsyncClient) -> None:
    await client.post("/internal/providers/firetext", json={"priority": 49, "active": False})
    body = (await client.get("/internal/providers")).json()
    assert {p["name"]: p["share_percent"]["uk"] for p in body["providers"]} == {"mmg": 100.0, "firetext": 0.0}


@pytest.mark.parametrize(
    "payload", [{"priority": 101}, {"priority": -1}, {"priority": "high"}, {}, {"priority": 5, "x": 1}]
)
async def test_invalid_settings_are_refused(client: httpx.AsyncClient, payload: dict[str, object]) -> None:
    assert (await client.post("/internal/providers/mmg", json=payload)).status_code == 422


async def test_unknown_providers_are_not_found(client: httpx.AsyncClient) -> None:
    response = await client.post("/internal/providers/textlocal", json={"priority": 5})
    assert response.status_code == 404
    assert response.json() == {"result": "error", "message": "Unknown provider"}
