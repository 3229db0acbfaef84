"""SMS receipts: one that arrives before its send is recorded is refused (409) so the provider retries it, and is
applied once the send is in the ledger; a final receipt is remembered for the slow-delivery check."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from notify_contracts import decode
from notify_delivery_sms.adapters.tables import metadata, outbox, receipts, sends
from notify_delivery_sms.entrypoints import receipts as route
from notify_delivery_sms.providers import DELIVERED, Receipt
from notify_platform.db import Database
from notify_platform.group_commit import GroupCommit
from notify_tools.testing import Infra, scratch_database
from sqlalchemy import func, select

pytestmark = pytest.mark.integration


@pytest.fixture
def db(infra: Infra) -> Iterator[Database]:
    with scratch_database(infra, metadata, "sms_receipts") as database:
        yield database


class Provider:
    """Stands in for a provider adapter: authorises everything, and the receipt is the body's notification id."""

    def receipt_authorised(self, headers: Any) -> bool:
        return True

    def parse_receipt(self, body: bytes, content_type: str) -> Receipt:
        return Receipt(
            notification_id=body.decode(), provider_reference="ref-1", status=DELIVERED, detail="3"
        )


@pytest.fixture
def app(db: Database) -> FastAPI:
    app = FastAPI()
    app.include_router(route.router)
    pool = SimpleNamespace(providers={"mmg": Provider()})
    app.state.context = SimpleNamespace(
        db=db,
        pool=pool,
        relay=SimpleNamespace(wake=lambda: None),
        receipts=GroupCommit(db, route.report_receipts),
    )
    return app


async def _post(app: FastAPI, notification_id: uuid.UUID) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        return await client.post("/notifications/sms/mmg", content=str(notification_id).encode())


def _events(db: Database) -> list[Any]:
    with db.engine.connect() as conn:
        return [decode(bytes(b)) for b in conn.execute(select(outbox.c.body)).scalars()]


async def test_a_receipt_before_the_send_is_recorded_is_refused_then_applied(
    app: FastAPI, db: Database
) -> None:
    nid = uuid.uuid4()
    early = await _post(app, nid)
    assert early.status_code == 409  # the provider keeps it and tries again
    assert _events(db) == []
    with db.unit_of_work() as conn:
        conn.execute(
            sends.insert().values(
                notification_id=nid,
                service_id=uuid.uuid4(),
                state="sent",
                correlation_id="corr",
                provider="mmg",
            )
        )
    assert (await _post(app, nid)).status_code == 200
    (event,) = _events(db)
    assert (event.payload.notification_id, event.payload.status, event.payload.provider) == (
        nid,
        DELIVERED,
        "mmg",
    )
    assert event.correlation_id == "corr"
    with db.engine.connect() as conn:
        assert conn.execute(
            select(receipts.c.status).where(receipts.c.notification_id == nid)
        ).scalar_one() == (DELIVERED)


async def test_unknown_providers_and_bad_ids_are_refused(app: FastAPI, db: Database) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        assert (await client.post("/notifications/sms/nope", content=b"x")).status_code == 404
        assert (await client.post("/notifications/sms/mmg", content=b"not-a-uuid")).status_code == 409
    assert _events(db) == []


async def test_receipts_arriving_together_are_written_together_each_answered_for_itself(
    app: FastAPI, db: Database
) -> None:
    known = [uuid.uuid4() for _ in range(30)]
    with db.unit_of_work() as conn:
        conn.execute(
            sends.insert(),
            [
                {
                    "notification_id": n,
                    "service_id": uuid.uuid4(),
                    "state": "sent",
                    "correlation_id": f"c-{i}",
                }
                for i, n in enumerate(known)
            ],
        )
    unknown = [uuid.uuid4() for _ in range(10)]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        replies = await asyncio.gather(
            *(
                client.post("/notifications/sms/mmg", content=str(n).encode())
                for n in [*known, *unknown, known[0]]  # the first one twice
            )
        )
    codes = [r.status_code for r in replies]
    assert codes == [200] * 30 + [409] * 10 + [200]
    events = _events(db)
    assert sorted(str(e.payload.notification_id) for e in events) == sorted(map(str, [*known, known[0]]))
    assert {e.correlation_id for e in events if e.payload.notification_id == known[3]} == {"c-3"}
    with db.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(receipts)).scalar_one() == 30
