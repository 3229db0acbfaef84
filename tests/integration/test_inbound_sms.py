"""Inbound SMS end to end: numbers added to the pool with ``notify-ops``, one assigned through the admin API, each
provider simulator texting it in its own format to delivery-sms, notifications storing the text for the service and
calling it back, and the real client reading it from ``GET /v2/received-text-messages``. A text to a number nobody
owns is answered 200 and stored nowhere; the same report delivered twice is stored and called back once."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from notifications_python_client.notifications import NotificationsAPIClient
from notify_tools.admin_client import AdminClient
from notify_tools.callback_receiver import CallbackReceiver
from notify_tools.demo import create_demo
from notify_tools.launcher import RunningStack
from sqlalchemy import text
from sqlalchemy.engine import Engine

from .helpers import eventually

pytestmark = pytest.mark.integration

NUMBER, SPARE = "07700900771", "07700900772"
TOKEN = "an-inbound-callback-token-1234"
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def _text(stack: RunningStack, sim: str, **body: str) -> dict[str, Any]:
    """Make a provider simulator send a received text to delivery-sms; what delivery-sms answered it."""
    answer = httpx.post(f"{stack.url(sim)}/inbound", json=body, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def _stored(db: Engine, message: str) -> int:
    with db.connect() as conn:
        return conn.execute(
            text("SELECT count(*) FROM inbound_sms WHERE content = :m"), {"m": message}
        ).scalar_one()


def test_received_texts_reach_the_service_its_callback_and_the_public_api(
    stack: RunningStack, admin: AdminClient, db: Engine, callback_receiver: CallbackReceiver
) -> None:
    svc = create_demo(stack.base_url, stack.admin_secret)
    sid = svc["service_id"]

    # Ops add numbers to the pool the way the README says.
    added = subprocess.run(
        [
            sys.executable,
            "-m",
            "notify_tools.ops",
            "add-inbound-numbers",
            NUMBER,
            "+44 7700 900772",
            "--provider",
            "mmg",
            "--database-url",
            db.url.render_as_string(hide_password=False),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "added 2 inbound number(s)" in added.stdout
    available = {n["number"]: n for n in admin.get("/inbound-number/available")["data"]}
    assert {NUMBER, SPARE} <= set(available)

    sender = admin.post(f"/inbound-number/service/{sid}", {"inbound_number_id": available[NUMBER]["id"]})
    assert (sender["sms_sender"], sender["is_default"]) == (NUMBER, True)
    assert sender["inbound_number_id"] == available[NUMBER]["id"]
    mine = admin.get(f"/inbound-number/service/{sid}")["data"]
    assert mine["number"] == NUMBER and mine["service"]["id"] == sid and mine["active"] is True

    permissions = admin.get(f"/service/{sid}")["data"]["permissions"]
    admin.post(f"/service/{sid}", {"permissions": [*permissions, "inbound_sms"]})
    admin.post(
        f"/service/{sid}/callback-api",
        {
            "url": callback_receiver.url("/inbound"),
            "bearer_token": TOKEN,
            "updated_by_id": svc["user_id"],
            "callback_type": "inbound_sms",
        },
    )

    # Each provider, in its own format, to the number as providers write it (international digits).
    started = datetime.now(UTC)
    messages = {"sms-sim-mmg": "Yes please, 100% & + more", "sms-sim-firetext": "Stop ünïcode texts"}
    for sim, message in messages.items():
        answered = _text(stack, sim, source="07700 900123", destination="447700900771", message=message)
        assert answered["status_code"] == 200

    client = NotificationsAPIClient(svc["api_keys"]["normal"], base_url=stack.base_url)
    received = eventually(
        lambda: list(client.get_received_texts_iterator()), lambda texts: len(texts) >= 2, timeout=30
    )
    assert sorted(t["content"] for t in received) == sorted(messages.values())
    for item in received:
        assert set(item) == {"id", "created_at", "service_id", "notify_number", "user_number", "content"}
        assert (item["service_id"], item["notify_number"], item["user_number"]) == (
            sid,
            NUMBER,
            "447700900123",
        )
        assert TIMESTAMP.match(item["created_at"])
    page = client.get_received_texts()
    last = page["received_text_messages"][-1]["id"]
    assert [t["id"] for t in page["received_text_messages"]] == [t["id"] for t in received]  # newest first
    assert page["links"] == {
        "current": f"{stack.base_url}/v2/received-text-messages",
        "next": f"{stack.base_url}/v2/received-text-messages?older_than={last}",
    }
    assert client.get_received_texts(older_than=last)["received_text_messages"] == []

    callbacks = callback_receiver.wait_for("/inbound", 2)
    by_id = {c.json["id"]: c for c in callbacks}
    assert set(by_id) == {t["id"] for t in received}
    for item in received:
        callback = by_id[item["id"]]
        assert callback.headers["authorization"] == f"Bearer {TOKEN}"
        assert callback.headers["content-type"] == "application/json"
        payload = callback.json
        assert set(payload) == {"id", "source_number", "destination_number", "message", "date_received"}
        assert (payload["source_number"], payload["destination_number"], payload["message"]) == (
            "447700900123",
            NUMBER,
            item["content"],
        )
        assert TIMESTAMP.match(payload["date_received"])
        # The provider's time (to the second, UK local time on the wire) is now.
        when = datetime.strptime(payload["date_received"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        assert abs((when - started).total_seconds()) < 60

    # The same report delivered twice (a provider retrying): stored once, called back once.
    reference = f"retry-{uuid.uuid4().hex[:8]}"
    for _ in range(2):
        again = _text(
            stack,
            "sms-sim-mmg",
            source="447700900124",
            destination=NUMBER,
            message="Sent twice",
            reference=reference,
        )
        assert (again["status_code"], again["reference"]) == (200, reference)

    # A number nobody owns, and one in the pool but given to no service: 200 to the provider, stored nowhere.
    for destination in ("447700900999", "447700900772"):
        dropped = _text(
            stack, "sms-sim-firetext", source="447700900125", destination=destination, message="Nobody"
        )
        assert dropped["status_code"] == 200
    # A later text to the service: once it is stored, the ones before it have been handled.
    _text(stack, "sms-sim-firetext", source="447700900126", destination=NUMBER, message="Last one")
    texts = eventually(
        lambda: list(client.get_received_texts_iterator()),
        lambda texts: {"Sent twice", "Last one"} <= {t["content"] for t in texts},
        timeout=30,
    )
    assert [t["content"] for t in texts].count("Sent twice") == 1
    assert _stored(db, "Sent twice") == 1
    callback_receiver.wait_for("/inbound", 4)
    time.sleep(1.5)  # a second callback for the repeated report would have arrived by now
    sent = [c.json["message"] for c in callback_receiver.requests("/inbound")]
    assert sorted(sent) == sorted([*messages.values(), "Sent twice", "Last one"])
    assert _stored(db, "Nobody") == 0
    logs = stack.logs()
    for secret in (
        "7700900124",
        "7700900125",
        "7700900126",
        "7700900999",
        "Sent twice",
        "Nobody",
        "Last one",
    ):
        assert secret not in logs  # no service logs a sender, a number or a message

    # The admin's inbox holds the same texts; a sender's alone, looked up in any format.
    inbox = admin.post(f"/service/{sid}/inbound-sms", {})["data"]
    assert [t["id"] for t in inbox] == [t["id"] for t in texts]
    from_one = admin.post(f"/service/{sid}/inbound-sms", {"phone_number": "+44 7700 900124"})["data"]
    assert [t["content"] for t in from_one] == ["Sent twice"]
    assert admin.get(f"/service/{sid}/inbound-sms/summary")["count"] == len(texts)

    # Switched off: the number stays the service's, texts to it are dropped.
    assert admin.post(f"/inbound-number/service/{sid}/off") is None  # 204, no body
    assert admin.get(f"/inbound-number/service/{sid}")["data"]["active"] is False
