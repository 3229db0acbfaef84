"""The send path end to end with the real ``notifications-python-client``: gateway → RabbitMQ → notifications →
delivery-sms → SMS provider simulator → receipt → statuses back → ``delivered`` with timestamps."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from notifications_python_client.errors import HTTPError
from notifications_python_client.notifications import NotificationsAPIClient
from notify_tools.launcher import RunningStack

from .helpers import eventually, status_or_none


def _sends_by_reference(stack: RunningStack, notification_id: str) -> int:
    total = 0
    for sim in ("sms-sim-mmg", "sms-sim-firetext"):
        stats = httpx.get(f"{stack.url(sim)}/stats", timeout=5).json()
        total += stats["by_reference"].get(notification_id, 0)
    return total


def test_sms_sent_with_the_real_client_ends_delivered(stack: RunningStack, demo: dict[str, Any]) -> None:
    client = NotificationsAPIClient(demo["api_keys"]["normal"], base_url=stack.base_url)
    response = client.send_sms_notification(
        phone_number="07700 900456",
        template_id=demo["templates"]["sms"],
        personalisation={"name": "Ada", "reference": "R-1"},
        reference="walking-skeleton",
    )
    assert response["content"]["body"] == "Hello Ada, your reference is R-1."
    assert response["reference"] == "walking-skeleton"
    assert response["template"]["id"] == demo["templates"]["sms"]
    assert response["template"]["version"] == 1
    assert response["uri"] == f"{stack.base_url}/v2/notifications/{response['id']}"
    uuid.UUID(response["id"])

    # Read-your-writes: the notification is visible at once, whatever stage it has reached.
    first = client.get_notification_by_id(response["id"])
    assert first["status"] in {"created", "sending", "delivered"}
    assert first["phone_number"] == "07700 900456"

    final = eventually(
        lambda: client.get_notification_by_id(response["id"]),
        lambda n: n["status"] == "delivered",
        timeout=60,
    )
    assert final["status"] == "delivered"
    assert final["type"] == "sms"
    assert final["body"] == "Hello Ada, your reference is R-1."
    assert final["sent_at"] is not None
    assert final["completed_at"] is not None
    assert final["created_at"] <= final["sent_at"] <= final["completed_at"]
    assert _sends_by_reference(stack, response["id"]) == 1


def test_test_key_never_reaches_a_provider_and_gets_the_simulated_outcome(
    stack: RunningStack, demo: dict[str, Any]
) -> None:
    client = NotificationsAPIClient(demo["api_keys"]["test"], base_url=stack.base_url)
    response = client.send_sms_notification(
        phone_number="07700900002",
        template_id=demo["templates"]["sms"],
        personalisation={"name": "B", "reference": "2"},
    )
    final = eventually(
        lambda: client.get_notification_by_id(response["id"]),
        lambda n: n["status"] == "permanent-failure",
        timeout=60,
    )
    assert final["status"] == "permanent-failure"
    assert _sends_by_reference(stack, response["id"]) == 0


def test_smoke_test_recipient_is_accepted_but_never_stored(stack: RunningStack, demo: dict[str, Any]) -> None:
    client = NotificationsAPIClient(demo["api_keys"]["normal"], base_url=stack.base_url)
    response = client.send_sms_notification(
        phone_number="07700900000",
        template_id=demo["templates"]["sms"],
        personalisation={"name": "C", "reference": "3"},
    )
    assert response["content"]["body"] == "Hello C, your reference is 3."
    with pytest.raises(HTTPError) as raised:
        client.get_notification_by_id(response["id"])
    assert raised.value.status_code == 404
    assert raised.value.message == [{"error": "NoResultFound", "message": "No result found"}]


def test_templated_letter_is_accepted_and_readable(stack: RunningStack, demo: dict[str, Any]) -> None:
    client = NotificationsAPIClient(demo["api_keys"]["normal"], base_url=stack.base_url)
    address = {"address_line_1": "A. Person", "address_line_2": "1 High Street", "postcode": "sw1a 1aa"}
    response = client.send_letter_notification(
        template_id=demo["templates"]["letter"],
        personalisation={**address, "name": "Ada", "thing": "licence"},
        reference="letter-1",
    )
    assert response["content"] == {
        "body": "Dear Ada,\n\nYour licence has been approved.",
        "subject": "About your licence",
    }
    stored = eventually(
        lambda: status_or_none(client, response["id"]),
        lambda n: n is not None and n.get("line_1") is not None,
    )
    assert stored is not None
    # Printing follows within seconds in the test stack, so the letter may already be back as received.
    assert (stored["type"], stored["postage"]) == ("letter", "second")
    assert stored["status"] in {"accepted", "received"}
    assert (stored["line_1"], stored["line_2"], stored["postcode"]) == (
        "A. Person",
        "1 High Street",
        "sw1a 1aa",
    )

    team = NotificationsAPIClient(demo["api_keys"]["team"], base_url=stack.base_url)
    with pytest.raises(HTTPError) as refused:
        team.send_letter_notification(
            template_id=demo["templates"]["letter"],
            personalisation={**address, "name": "B", "thing": "permit"},
        )
    assert refused.value.status_code == 403
    assert refused.value.message == [
        {"error": "BadRequestError", "message": "Cannot send letters with a team api key"}
    ]
