"""Email receipts: bearer token, SES-like mapping, matched to the ledger by Message-ID, reported via the outbox."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from notify_contracts import decode
from notify_delivery_email.adapters.tables import metadata, outbox, sends
from notify_delivery_email.entrypoints import receipts
from notify_platform.db import Database
from notify_platform.group_commit import GroupCommit
from notify_tools.testing import Infra, scratch_database
from sqlalchemy import select

pytestmark = pytest.mark.integration
TOKEN = "receipt-token"


@pytest.fixture
def db(infra: Infra) -> Iterator[Database]:
    with scratch_database(infra, metadata, "email_receipts") as database:
        yield database


class Batches:
    """``report_receipts``, recording how many receipts each transaction took."""

    def __init__(self) -> None:
        self.sizes: list[int] = []

    def __call__(self, conn: Any, taken: Any) -> Any:
        self.sizes.append(len(taken))
        return receipts.report_receipts(conn, taken)


@pytest.fixture
def batches() -> Batches:
    return Batches()


@pytest.fixture
def app(db: Database, batches: Batches) -> FastAPI:
    app = FastAPI()
    app.include_router(receipts.router)
    app.state.context = SimpleNamespace(
        db=db,
        relay=SimpleNamespace(wake=lambda: None),
        receipt_token=TOKEN,
        receipts=GroupCommit(db, batches),
    )
    return app


def _sent(db: Database) -> tuple[uuid.UUID, str]:
    nid = uuid.uuid4()
    message_id = f"<{nid}@notifications.example>"
    with db.unit_of_work() as conn:
        conn.execute(
            sends.insert().values(
                notification_id=nid,
                service_id=uuid.uuid4(),
                state="sent",
                correlation_id="corr-send",
                provider_reference=message_id,
            )
        )
    return nid, message_id


def _reports(db: Database) -> list[Any]:
    with db.engine.connect() as conn:
        return [decode(bytes(b)) for b in conn.execute(select(outbox.c.body).order_by(outbox.c.id)).scalars()]


async def _post(app: FastAPI, body: Any, token: str | None = TOKEN) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        return await client.post(receipts.RECEIPT_PATH, content=orjson.dumps(body), headers=headers)


@pytest.mark.parametrize(
    ("receipt", "status"),
    [
        ({"notificationType": "Delivery"}, "delivered"),
        ({"notificationType": "Bounce", "bounce": {"bounceType": "Permanent"}}, "permanent-failure"),
        ({"notificationType": "Bounce", "bounce": {"bounceType": "Transient"}}, "temporary-failure"),
        ({"notificationType": "Bounce", "bounce": {"bounceType": "Undetermined"}}, "temporary-failure"),
    ],
)
async def test_receipts_become_status_reports(app: FastAPI, db: Database, receipt: Any, status: str) -> None:
    nid, message_id = _sent(db)
    response = await _post(app, {**receipt, "mail": {"messageId": message_id}})
    assert response.status_code == 200
    (event,) = _reports(db)
    assert event.payload.notification_id == nid
    assert event.payload.status == status
    assert event.payload.provider_reference == message_id
    assert event.correlation_id == "corr-send"


async def test_a_complaint_changes_no_status_and_is_announced_once_per_complaint(
    app: FastAPI, db: Database
) -> None:
    nid, message_id = _sent(db)
    body = {
        "notificationType": "Complaint",
        "mail": {"messageId": message_id},
        "complaint": {"timestamp": "2026-11-20T10:00:00.000Z"},
    }
    assert (await _post(app, body)).status_code == 200
    assert (await _post(app, body)).status_code == 200  # the relay sent the same complaint twice
    first, second = _reports(db)
    assert first.routing_key == "email.complaint_received.v1"
    assert not any(e.type == "notification.status_reported" for e in (first, second))
    assert (first.payload.notification_id, first.payload.provider_reference) == (nid, message_id)
    assert first.payload.complained_at.isoformat() == "2026-11-20T10:00:00+00:00"
    assert first.payload.complaint_id == second.payload.complaint_id  # consumers can drop the repeat
    assert first.correlation_id == "corr-send"


@pytest.mark.parametrize("token", [None, "wrong", "receipt-token-and-more"])
async def test_the_bearer_token_is_required(app: FastAPI, db: Database, token: str | None) -> None:
    _, message_id = _sent(db)
    response = await _post(app, {"notificationType": "Delivery", "mail": {"messageId": message_id}}, token)
    assert response.status_code == 401
    assert _reports(db) == []


async def test_unknown_and_malformed_receipts(app: FastAPI, db: Database) -> None:
    unknown = await _post(app, {"notificationType": "Delivery", "mail": {"messageId": "<nope@x>"}})
    assert unknown.status_code == 409
    assert (await _post(app, {"notificationType": "Delivery"})).status_code == 400
    assert (await _post(app, {"notificationType": "Open", "mail": {"messageId": "<a@b>"}})).status_code == 400
    assert (await _post(app, ["not", "an", "object"])).status_code == 400


async def test_receipts_arriving_together_are_written_together_each_answered_for_itself(
    app: FastAPI, db: Database, batches: Batches
) -> None:
    sent = [_sent(db) for _ in range(30)]
    complained_at = "2026-11-20T10:00:00.000Z"
    bodies: list[Any] = [{"notificationType": "Delivery", "mail": {"messageId": mid}} for _, mid in sent]
    bodies += [
        {"notificationType": "Delivery", "mail": {"messageId": f"<{uuid.uuid4()}@x>"}} for _ in range(10)
    ]
    bodies.append(
        {
            "notificationType": "Complaint",
            "mail": {"messageId": sent[0][1]},
            "complaint": {"timestamp": complained_at},
        }
    )
    bodies.append(
        {
            "notificationType": "Bounce",
            "mail": {"messageId": sent[1][1]},
            "bounce": {"bounceType": "Permanent"},
        }
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        replies = await asyncio.gather(
            *(
                client.post(
                    receipts.RECEIPT_PATH,
                    content=orjson.dumps(b),
                    headers={"Authorization": f"Bearer {TOKEN}"},
                )
                for b in bodies
            )
        )
    assert [r.status_code for r in replies] == [200] * 30 + [409] * 10 + [200, 200]
    assert max(batches.sizes) > 1 and len(batches.sizes) < len(bodies)  # far fewer transactions than receipts
    events = _reports(db)
    statuses = sorted(
        (str(e.payload.notification_id), e.payload.status)
        for e in events
        if e.type == "notification.status_reported"
    )
    assert statuses == sorted(
        [(str(nid), "delivered") for nid, _ in sent] + [(str(sent[1][0]), "permanent-failure")]
    )
    (complaint,) = [e for e in events if e.routing_key == "email.complaint_received.v1"]
    assert complaint.payload.notification_id == sent[0][0]
    assert complaint.payload.complained_at.isoformat() == "2026-11-20T10:00:00+00:00"
    assert {e.correlation_id for e in events} == {"corr-send"}
