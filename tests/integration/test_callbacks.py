"""Delivery-status callbacks through the whole stack: sends with the real client, receipts from the simulators, and a
real HTTP endpoint receiving exactly the documented request, with retries on 5xx, 429 and timeouts, none on 400, and
the SSRF guard refusing a non-public target at send time."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from notifications_python_client.notifications import NotificationsAPIClient
from notify_tools.admin_client import AdminClient
from notify_tools.callback_receiver import CallbackReceiver
from notify_tools.demo import create_demo
from notify_tools.launcher import RunningStack
from sqlalchemy import text
from sqlalchemy.engine import Engine

from .helpers import eventually

TOKEN = "callback-token-" + uuid.uuid4().hex
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
FIELDS = {
    "id",
    "reference",
    "to",
    "status",
    "created_at",
    "completed_at",
    "sent_at",
    "notification_type",
    "template_id",
    "template_version",
}


@pytest.fixture
def service(stack: RunningStack) -> dict[str, Any]:
    """A service of its own for each test: one delivery-status callback configuration per service."""
    return create_demo(stack.base_url, stack.admin_secret)


@pytest.fixture
def configure(admin: AdminClient, service: dict[str, Any]) -> Iterator[Any]:
    def set_url(url: str) -> None:
        admin.post(
            f"/service/{service['service_id']}/callback-api",
            {
                "url": url,
                "bearer_token": TOKEN,
                "updated_by_id": service["user_id"],
                "callback_type": "delivery_status",
            },
        )

    yield set_url


def client(service: dict[str, Any], key_type: str = "normal") -> NotificationsAPIClient:
    return NotificationsAPIClient(service["api_keys"][key_type], base_url=service["base_url"])


def send_sms(service: dict[str, Any], phone: str = "07700 900456", key_type: str = "normal") -> str:
    return str(
        client(service, key_type).send_sms_notification(
            phone,
            service["templates"]["sms"],
            personalisation={"name": "Ann", "reference": "R1"},
            reference="client-ref-1",
        )["id"]
    )


def test_a_delivered_text_is_called_back_with_exactly_the_documented_request(
    configure: Any, service: dict[str, Any], callback_receiver: CallbackReceiver
) -> None:
    configure(callback_receiver.url("/status"))
    nid = send_sms(service)
    (request,) = callback_receiver.wait_for("/status", 1)
    assert request.method == "POST"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["content-type"] == "application/json"
    body = request.json
    assert set(body) == FIELDS
    notification = client(service).get_notification_by_id(nid)
    assert {k: body[k] for k in ("id", "reference", "to", "status", "notification_type", "template_id")} == {
        "id": nid,
        "reference": "client-ref-1",
        "to": "07700 900456",
        "status": "delivered",
        "notification_type": "sms",
        "template_id": service["templates"]["sms"],
    }
    assert body["template_version"] == notification["template"]["version"] and isinstance(
        body["template_version"], int
    )
    for field in ("created_at", "completed_at", "sent_at"):
        assert TIMESTAMP.match(body[field]), (field, body[field])
    assert body["created_at"] <= body["sent_at"] <= body["completed_at"]
    time.sleep(1)
    assert len(callback_receiver.requests("/status")) == 1  # one status change, one callback


def test_test_keys_are_called_back_and_smoke_test_recipients_are_not(
    configure: Any, service: dict[str, Any], callback_receiver: CallbackReceiver
) -> None:
    configure(callback_receiver.url("/status"))
    smoke = send_sms(service, "07700 900000")
    failing = send_sms(service, "07700 900002", key_type="test")  # research mode: permanent-failure
    email = str(
        client(service, "test").send_email_notification(
            "temp-fail@simulator.notify",
            service["templates"]["email"],
            personalisation={"name": "A", "thing": "B"},
        )["id"]
    )
    received = callback_receiver.wait_for("/status", 2)
    by_id = {r.json["id"]: r.json for r in received}
    assert by_id[failing]["status"] == "permanent-failure"
    assert by_id[email]["status"] == "temporary-failure" and by_id[email]["notification_type"] == "email"
    assert by_id[email]["to"] == "temp-fail@simulator.notify"
    time.sleep(
        1.5
    )  # a smoke-test send is answered but never stored or sent (behaviour.md §3): no status, no callback
    assert smoke not in {r.json["id"] for r in callback_receiver.requests("/status")}


def test_5xx_429_and_timeouts_are_retried_and_400_is_not(
    configure: Any, service: dict[str, Any], callback_receiver: CallbackReceiver
) -> None:
    # The stack retries after 1 s (CALLBACK_RETRY_DELAYS), Notify's 300 s made short; the POST times out after 5 s.
    callback_receiver.script("/status", 500, 429, ("sleep", 6), 400)
    configure(callback_receiver.url("/status"))
    first = send_sms(service)
    attempts = callback_receiver.wait_for("/status", 4, timeout=40)
    assert {a.json["id"] for a in attempts} == {first}
    assert all(a.json == attempts[0].json for a in attempts)  # the same callback each time
    assert attempts[1].at - attempts[0].at >= 0.9  # after the retry delay
    time.sleep(3)
    assert len(callback_receiver.requests("/status")) == 4  # the 400 ended it: never retried


def test_an_endpoint_down_for_a_while_gets_its_callback_when_it_is_back(
    configure: Any, service: dict[str, Any], callback_receiver: CallbackReceiver
) -> None:
    callback_receiver.script("/status", 503, 503, 503, 503)
    configure(callback_receiver.url("/status"))
    nid = send_sms(service)
    attempts = callback_receiver.wait_for("/status", 5, timeout=40)
    assert [a.json["id"] for a in attempts] == [nid] * 5


def test_a_target_that_resolves_to_a_non_public_address_is_refused_at_send_time(
    configure: Any, service: dict[str, Any], db: Engine
) -> None:
    configure("http://169.254.169.254/latest/meta-data")  # link-local: the test stack allows only loopback
    send_sms(service)

    def outcome() -> Any:
        with db.connect() as conn:
            return conn.execute(
                text(
                    "SELECT state, attempts, last_error, payload FROM callback_deliveries WHERE service_id = :id"
                ),
                {"id": service["service_id"]},
            ).first()

    row = eventually(outcome, lambda r: r is not None and r.state != "pending")
    assert row is not None and (row.state, row.attempts) == ("failed", 1), row
    assert "non-public address (169.254.169.254)" in row.last_error
    assert row.payload == {}  # an ended callback keeps no copy of the recipient
