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
from notify_contracts import (
    EmailComplaintReceivedV1,
    LetterCancelledV1,
    LetterReturnedV1,
    NotificationRequestedV1,
    SmsReceivedV1,
    new_envelope,
)
from notify_gateway.auth import create_jwt
from notify_tools.admin_client import AdminClient
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


# --- every queue, every kind of malformed message ----------------------------------------------------------------


def _declared_queues() -> dict[str, tuple[str, ...]]:
    """Every consumer queue the services declare (each bootstrap's ``QUEUES``), with its routing patterns."""
    from notify_tools.notifyctl import _literal_queues, declared_queues

    return {queue: (_literal_queues(module) or {})[queue] for queue, module in declared_queues().items()}


def _envelope(event_type: str, version: int, payload: Any) -> bytes:
    return json.dumps(
        {
            "event_id": str(uuid.uuid4()),
            "type": event_type,
            "version": version,
            "occurred_at": datetime.now(UTC).isoformat(),
            "correlation_id": "fuzz-messages",
            "producer": "test",
            "payload": payload,
        }
    ).encode()


def _malformed(event_type: str) -> dict[str, tuple[bytes, dict[str, Any]]]:
    """Name → (body, headers) of the malformed messages published to a queue consuming ``event_type``."""
    valid_shape = json.loads(_envelope(event_type, 1, {}))
    return {
        "not json": (b"\x00\xff not json {", {}),
        "json, not an envelope": (b'{"hello": "world"}', {}),
        "a json scalar": (b"42", {}),
        "an empty bundle": (b"[]", {"x-events": 0}),
        "a bundle of non-envelopes": (b"[1, 2, 3]", {"x-events": "three"}),
        "a bundle mixing versions": (
            b"[" + _envelope(event_type, 1, {}) + b"," + _envelope(event_type, 2, {}) + b"]",
            {"x-events": 2},
        ),
        "unknown version": (_envelope(event_type, 999, {}), {}),
        "unknown type": (_envelope("no.such.event", 1, {}), {}),
        "payload failing the contract": (_envelope(event_type, 1, {"unexpected": True}), {}),
        "payload of the wrong type": (json.dumps({**valid_shape, "payload": [1]}).encode(), {}),
        "envelope missing its fields": (json.dumps({"type": event_type, "version": 1}).encode(), {}),
        "huge (1 MiB)": (b'{"type": "' + b"x" * (1 << 20) + b'", "version": 1}', {}),
    }


async def _publish_to_queue(
    amqp_url: str, queue: str, messages: dict[str, tuple[bytes, dict[str, Any]]], tag: str
) -> None:
    """Straight to ``queue`` through the default exchange (so no other queue sees them), each with a message id
    naming it."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        for name, (body, headers) in messages.items():
            await channel.default_exchange.publish(
                aio_pika.Message(
                    body,
                    headers=headers,
                    message_id=f"{tag}:{name}",
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key=queue,
            )


async def _take_dead_letters(amqp_url: str, queues: list[str], tag: str, timeout: float) -> dict[str, dict]:
    """Queue → {message id: headers} of the dead letters with ids starting ``tag``, taken (acked) from each
    ``<queue>.dlq``; any other dead letter is left where it is (unacked, so back in the queue on close)."""
    found: dict[str, dict[str, Any]] = {queue: {} for queue in queues}
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        dlqs = {queue: await channel.get_queue(f"{queue}.dlq") for queue in queues}
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for queue, dlq in dlqs.items():
                while (message := await dlq.get(no_ack=False, fail=False)) is not None:
                    if (message.message_id or "").startswith(tag):
                        found[queue][message.message_id] = dict(message.headers or {})
                        await message.ack()
            if all(len(got) >= 12 for got in found.values()):
                return found
            if asyncio.get_running_loop().time() > deadline:
                return found
            await asyncio.sleep(0.25)


def _consumed(stack: RunningStack) -> dict[str, float]:
    """``notify_events_consumed_total`` by queue, summed over every service process (events handled and acked)."""
    totals: dict[str, float] = {}
    for name in ("notifications", "jobs", "delivery-sms", "delivery-email", "delivery-letter"):
        text = httpx.get(f"{stack.url(name)}/metrics", timeout=10).text
        for line in text.splitlines():
            if line.startswith("notify_events_consumed_total{"):
                labels, value = line.rsplit(" ", 1)
                queue = labels.split('queue="', 1)[1].split('"', 1)[0]
                totals[queue] = totals.get(queue, 0.0) + float(value)
    return totals


def test_every_queue_dead_letters_every_kind_of_malformed_message_and_keeps_consuming(
    stack: RunningStack, demo: dict[str, Any]
) -> None:
    amqp = stack.env["AMQP_URL"]
    queues = _declared_queues()
    assert {
        "notifications.requested",
        "notifications.status-reported",
        "notifications.callbacks",
        "notifications.complaints",
        "notifications.returned-letters",
        "notifications.inbound-sms",
        "jobs.status-changed",
        "delivery-sms.requested",
        "delivery-email.requested",
        "delivery-letter.requested",
        "delivery-letter.cancelled",
    } <= set(queues), queues
    tag = f"fuzz-{uuid.uuid4().hex[:8]}"
    sent: dict[str, set[str]] = {}
    for queue, patterns in queues.items():
        messages = _malformed(patterns[0].removesuffix(".*"))
        asyncio.run(_publish_to_queue(amqp, queue, messages, f"{tag}:{queue}"))
        sent[queue] = {f"{tag}:{queue}:{name}" for name in messages}

    dead = asyncio.run(_take_dead_letters(amqp, list(queues), tag, timeout=60))
    for queue in queues:
        assert set(dead[queue]) == sent[queue], (queue, sent[queue] - set(dead[queue]))
        for message_id, headers in dead[queue].items():
            assert headers.get("x-death-reason"), message_id
            assert headers.get("x-original-routing-key") == queue, (message_id, headers)

    # The consumers kept going: valid events on every queue are handled and acked afterwards. The main pipeline's
    # queues by real sends to their end; the others by valid events about nothing that exists (handled as no-ops).
    before = _consumed(stack)
    client = NotificationsAPIClient(demo["api_keys"]["normal"], base_url=stack.base_url)
    sends = [
        client.send_sms_notification(
            phone_number="07700900790",
            template_id=demo["templates"]["sms"],
            personalisation={"name": "F", "reference": "7"},
        ),
        client.send_email_notification(
            email_address="fuzz-after@example.gov.uk",
            template_id=demo["templates"]["email"],
            personalisation={"name": "F", "thing": "fuzz"},
        ),
        client.send_letter_notification(
            template_id=demo["templates"]["letter"],
            personalisation={
                "address_line_1": "A Person",
                "address_line_2": "1 Street",
                "address_line_3": "SW1A 1AA",
                "name": "F",
                "thing": "fuzz",
            },
        ),
    ]
    for sent_one in sends[:2]:
        final = eventually(
            lambda n=sent_one: client.get_notification_by_id(n["id"]),
            lambda n: n["status"] == "delivered",
            timeout=60,
        )
        assert final["status"] == "delivered"
    letter_id = sends[2]["id"]
    assert eventually(lambda: status_or_none(client, letter_id), lambda n: n is not None) is not None
    # A complaint and a returned letter must be about a notification that is stored (an unknown one is retried,
    # in case the event overtook it): the email and the letter just sent.
    now = datetime.now(UTC)
    service_id = uuid.UUID(demo["service_id"])
    leaf_events = {
        "notifications.complaints": EmailComplaintReceivedV1(
            complaint_id=uuid.uuid4(),
            notification_id=uuid.UUID(sends[1]["id"]),
            service_id=service_id,
            complained_at=now,
        ),
        "notifications.returned-letters": LetterReturnedV1(
            notification_id=uuid.UUID(letter_id), reported_at=now
        ),
        "notifications.inbound-sms": SmsReceivedV1(
            inbound_id=uuid.uuid4(),
            provider="mmg",
            destination_number="447700900999",
            source_number="447700900111",
            message="fuzz",
            received_at=now,
        ),
        "delivery-letter.cancelled": LetterCancelledV1(
            notification_id=uuid.uuid4(), service_id=service_id, cancelled_at=now
        ),
    }
    for queue, event in leaf_events.items():
        body = new_envelope(event, producer="test", correlation_id="fuzz-after").model_dump_json().encode()
        asyncio.run(_publish_to_queue(amqp, queue, {"valid": (body, {})}, f"{tag}-valid:{queue}"))

    after = eventually(
        lambda: _consumed(stack),
        lambda c: all(c.get(q, 0) > before.get(q, 0) for q in queues),
        timeout=60,
    )
    assert [q for q in queues if after.get(q, 0) <= before.get(q, 0)] == [], (before, after)
    leftover = asyncio.run(_take_dead_letters(amqp, list(queues), f"{tag}-valid", timeout=0))
    assert all(not got for got in leftover.values()), leftover


def test_the_gateway_cache_consumer_drops_malformed_change_events_and_keeps_invalidating(
    stack: RunningStack, demo: dict[str, Any]
) -> None:
    """The gateway's cache queue is a broadcast one (a transient queue per process, no dead letters by design: a
    change it cannot read is logged and dropped, caches expire anyway). Malformed change events must not stop it:
    a template edited afterwards is served at once (the test stack's cache TTL is 30 s)."""
    amqp = stack.env["AMQP_URL"]
    for routing_key in ("service.changed.v1", "template.changed.v1", "api_key.changed.v1"):
        event_type = routing_key.removesuffix(".v1")
        for body, _ in _malformed(event_type).values():
            asyncio.run(_publish(amqp, routing_key, body))

    admin = AdminClient(stack.base_url, stack.admin_secret)
    sid = demo["service_id"]
    user_id = admin.get(f"/service/{sid}")["data"]["created_by"]
    public = NotificationsAPIClient(demo["api_keys"]["normal"], base_url=stack.base_url)
    template = admin.post(
        f"/service/{sid}/template",
        {"name": "Fuzz cache", "template_type": "sms", "content": "one ((x))", "created_by": user_id},
    )["data"]
    assert public.get_template(template["id"])["body"] == "one ((x))"  # now cached by the gateway
    admin.post(f"/service/{sid}/template/{template['id']}", {"content": "two ((x))", "created_by": user_id})
    admin.close()
    served = eventually(
        lambda: public.get_template(template["id"])["body"], lambda body: body == "two ((x))", timeout=5
    )
    assert served == "two ((x))"
    dropped = [line for line in stack.tail("gateway", 2000).splitlines() if "broadcast_undecodable" in line]
    assert len(dropped) >= 36, len(dropped)
