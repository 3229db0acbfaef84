"""Bad messages on the services' real queues end in dead-letter queues and consuming goes on; handlers are
idempotent; the correlation id travels from the HTTP request through every event."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import aio_pika
import httpx
import pytest
from notifications_python_client.notifications import NotificationsAPIClient
from notify_contracts import NotificationRequestedV1, new_envelope
from notify_gateway.auth import create_jwt
from notify_tools.launcher import RunningStack

from .helpers import eventually, status_or_none

EXCHANGE = "notify"


async def _publish(amqp_url: str, routing_key: str, body: bytes) -> None:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(EXCHANGE)
        await exchange.publish(
            aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
            routing_key=routing_key,
            mandatory=True,
        )


async def _drain(amqp_url: str, queue_name: str) -> list[aio_pika.abc.AbstractIncomingMessage]:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.get_queue(queue_name)
        found = []
        while (message := await queue.get(no_ack=True, fail=False)) is not None:
            found.append(message)
        return found


@pytest.mark.parametrize(
    ("queue", "routing_key"),
    [
        ("notifications.requested", "notification.requested"),
        ("notifications.status-reported", "notification.status_reported"),
        ("delivery-sms.requested", "delivery.sms.requested"),
    ],
)
def test_malformed_and_unknown_messages_are_dead_lettered_with_their_reason(
    stack: RunningStack, demo: dict[str, Any], queue: str, routing_key: str
) -> None:
    amqp = stack.env["AMQP_URL"]
    valid_shape = {
        "event_id": str(uuid.uuid4()),
        "type": routing_key,
        "version": 1,
        "occurred_at": datetime.now(UTC).isoformat(),
        "correlation_id": "dlq-test",
        "producer": "test",
        "payload": {"unexpected": True},
    }
    unknown_version = {**valid_shape, "event_id": str(uuid.uuid4()), "version": 42}
    asyncio.run(_publish(amqp, f"{routing_key}.v1", b"\x00 not json"))
    asyncio.run(_publish(amqp, f"{routing_key}.v1", json.dumps(valid_shape).encode()))
    asyncio.run(_publish(amqp, f"{routing_key}.v42", json.dumps(unknown_version).encode()))

    dead: list[Any] = []
    eventually(
        lambda: dead.extend(asyncio.run(_drain(amqp, f"{queue}.dlq"))) or dead,
        lambda d: len(d) >= 3,
        timeout=30,
    )
    reasons = sorted(str(m.headers["x-death-reason"]) for m in dead)
    assert len(dead) == 3
    assert any(r.startswith("not an event envelope") for r in reasons)
    assert any(r.startswith(f"{routing_key} v1 invalid at payload") for r in reasons)
    assert f"unknown event {routing_key} v42" in reasons

    # The consumers kept consuming: a real send still goes all the way through.
    client = NotificationsAPIClient(demo["api_keys"]["normal"], base_url=stack.base_url)
    sent = client.send_sms_notification(
        phone_number="07700900789",
        template_id=demo["templates"]["sms"],
        personalisation={"name": "D", "reference": "4"},
    )
    final = eventually(
        lambda: client.get_notification_by_id(sent["id"]), lambda n: n["status"] == "delivered", timeout=60
    )
    assert final["status"] == "delivered"


def test_the_same_event_twice_stores_and_sends_once(stack: RunningStack, demo: dict[str, Any]) -> None:
    notification_id = uuid.uuid4()
    event = NotificationRequestedV1(
        notification_id=notification_id,
        service_id=uuid.UUID(demo["service_id"]),
        notification_type="sms",
        template_id=uuid.UUID(demo["templates"]["sms"]),
        template_version=1,
        recipient="07700900321",
        normalised_recipient="447700900321",
        key_type="normal",
        created_at=datetime.now(UTC),
        body="Hello E, your reference is 5.",
        sender="GOVUK",
    )
    body = new_envelope(event, producer="test", correlation_id="idempotency").model_dump_json().encode()
    for _ in range(2):
        asyncio.run(_publish(stack.env["AMQP_URL"], "notification.requested.v1", body))

    client = NotificationsAPIClient(demo["api_keys"]["normal"], base_url=stack.base_url)
    final = eventually(
        lambda: status_or_none(client, str(notification_id)),
        lambda n: n is not None and n["status"] == "delivered",
        timeout=60,
    )
    assert final is not None and final["status"] == "delivered"
    sends = sum(
        httpx.get(f"{stack.url(sim)}/stats", timeout=5).json()["by_reference"].get(str(notification_id), 0)
        for sim in ("sms-sim-mmg", "sms-sim-firetext")
    )
    assert sends == 1


def test_correlation_id_travels_through_every_service_and_no_personal_data_is_logged(
    stack: RunningStack, demo: dict[str, Any]
) -> None:
    correlation_id = f"corr-{uuid.uuid4()}"
    phone = "07700 900654"
    secret_value = f"Zebedee-{uuid.uuid4().hex[:8]}"
    key = demo["api_keys"]["normal"]
    client = NotificationsAPIClient(key, base_url=stack.base_url)
    token = create_jwt(demo["service_id"], key[-36:])
    response = httpx.post(
        f"{stack.base_url}/v2/notifications/sms",
        json={
            "phone_number": phone,
            "template_id": demo["templates"]["sms"],
            "personalisation": {"name": secret_value, "reference": "6"},
        },
        headers={"Authorization": f"Bearer {token}", "X-Correlation-Id": correlation_id},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    assert response.headers["x-correlation-id"] == correlation_id
    notification_id = response.json()["id"]
    eventually(
        lambda: client.get_notification_by_id(notification_id),
        lambda n: n["status"] == "delivered",
        timeout=60,
    )

    lines = [json.loads(line) for line in stack.logs().splitlines() if line.startswith("{")]
    tagged = {line.get("service") for line in lines if line.get("correlation_id") == correlation_id}
    assert {"api-gateway-api", "notifications-all", "delivery-sms-all"} <= tagged
    everything = stack.logs()
    for personal in (phone, phone.replace(" ", ""), "447700900654", secret_value):
        assert personal not in everything
