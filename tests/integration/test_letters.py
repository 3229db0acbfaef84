"""Letters end to end with the real ``notifications-python-client``: gateway → notifications → delivery-letter (PDF
rendered, collected into a print batch, uploaded) → print simulator → receipts → ``received``, ``technical-failure``
or ``returned-letter``; test keys never reach the printer; a cancelled letter is never printed; a worker killed
mid-upload prints nothing twice."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from notifications_python_client.notifications import NotificationsAPIClient
from notify_tools.admin_client import AdminClient
from notify_tools.launcher import RunningStack
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from .helpers import eventually, status_or_none

FINAL = {"received", "technical-failure", "validation-failed", "cancelled", "permanent-failure"}


@pytest.fixture(scope="module")
def letter_db(stack: RunningStack) -> Iterator[Engine]:
    """delivery-letter's own database in this run (to see where a letter is in print)."""
    url = make_url(stack.env["POSTGRES_URL"]).set(database=stack.env["DATABASE_PREFIX"] + "delivery_letter")
    engine = create_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def _client(stack: RunningStack, demo: dict[str, Any], key: str = "normal") -> NotificationsAPIClient:
    return NotificationsAPIClient(demo["api_keys"][key], base_url=stack.base_url)


def _send(client: NotificationsAPIClient, demo: dict[str, Any], first_line: str = "Ada Lovelace") -> str:
    response = client.send_letter_notification(
        template_id=demo["templates"]["letter"],
        personalisation={
            "address_line_1": first_line,
            "address_line_2": "1 High Street",
            "postcode": "SW1A 1AA",
            "name": "Ada",
            "thing": "licence",
        },
    )
    return str(response["id"])


def _final(client: NotificationsAPIClient, nid: str, timeout: float = 60) -> dict[str, Any]:
    return eventually(  # type: ignore[return-value]
        lambda: status_or_none(client, nid), lambda n: n is not None and n["status"] in FINAL, timeout=timeout
    )


def _printed(stack: RunningStack, nid: str) -> dict[str, Any] | None:
    response = httpx.get(f"{stack.url('print-sim')}/letters/{nid}", timeout=5)
    return response.json() if response.status_code == 200 else None


def _internal_status(db: Engine, nid: str) -> str | None:
    """The status the notifications service holds (the API shows returned letters as "received")."""
    with db.connect() as conn:
        return conn.execute(text("SELECT status FROM notifications WHERE id = :id"), {"id": nid}).scalar()


def _state(letter_db: Engine, nid: str) -> str | None:
    with letter_db.connect() as conn:
        return conn.execute(
            text("SELECT state FROM letters WHERE notification_id = :id"), {"id": nid}
        ).scalar()


def test_a_templated_letter_is_printed_once_and_ends_received(
    stack: RunningStack, demo: dict[str, Any]
) -> None:
    client = _client(stack, demo)
    nid = _send(client, demo)
    final = _final(client, nid)
    assert final["status"] == "received", stack.tail("delivery-letter")
    assert final["type"] == "letter" and final["postage"] == "second"
    assert final["sent_at"] is not None and final["completed_at"] is not None
    printed = _printed(stack, nid)
    assert printed is not None
    assert (printed["printed"], printed["postage"], printed["pages"], printed["sheets"]) == (
        1,
        "second",
        1,
        1,
    )
    assert client.get_pdf_for_letter(nid).read().startswith(b"%PDF-")


def test_a_letter_the_printer_rejects_ends_technical_failure(
    stack: RunningStack, demo: dict[str, Any]
) -> None:
    client = _client(stack, demo)
    nid = _send(client, demo, first_line="Reject Ada Lovelace")
    assert _final(client, nid)["status"] == "technical-failure", stack.tail("delivery-letter")
    printed = _printed(stack, nid)
    assert printed is not None and (printed["printed"], printed["outcome"]) == (1, "rejected")


def test_a_returned_letter_ends_returned_letter(
    stack: RunningStack, demo: dict[str, Any], db: Engine, letter_db: Engine
) -> None:
    client = _client(stack, demo)
    nid = _send(client, demo, first_line="Return to Ada")

    returned = eventually(lambda: _internal_status(db, nid), lambda s: s == "returned-letter", timeout=60)
    assert returned == "returned-letter"
    assert client.get_notification_by_id(nid)["status"] == "received"  # Notify shows returned letters so
    assert _state(letter_db, nid) == "returned"


def test_a_test_key_letter_never_reaches_the_printer_and_ends_received(
    stack: RunningStack, demo: dict[str, Any]
) -> None:
    client = _client(stack, demo, "test")
    nid = _send(
        client, demo, first_line="Reject Ada Lovelace"
    )  # the printer would reject it: it never sees it
    assert _final(client, nid)["status"] == "received", stack.tail("delivery-letter")
    assert _printed(stack, nid) is None
    assert nid not in httpx.get(f"{stack.url('print-sim')}/stats", timeout=5).json()["by_reference"]


def test_a_letter_cancelled_before_delivery_letter_saw_it_is_never_printed(
    stack: RunningStack, demo: dict[str, Any], db: Engine, letter_db: Engine
) -> None:
    client = _client(stack, demo)
    stack.stop("delivery-letter", signal.SIGTERM)
    try:
        nid = _send(client, demo)
        # Stored by notifications (the gateway may answer a GET from its "just accepted" window before that).
        assert eventually(lambda: _internal_status(db, nid), lambda s: s == "created") == "created"
        admin = AdminClient(stack.base_url, stack.admin_secret)
        try:
            admin.post(f"/service/{demo['service_id']}/notifications/{nid}/cancel")
        finally:
            admin.close()
    finally:
        stack.start("delivery-letter")
        stack.wait_ready(["delivery-letter"])
    # Both the letter request and the cancellation were waiting on delivery-letter's queues.
    assert eventually(lambda: _state(letter_db, nid), lambda s: s == "cancelled", timeout=30) == "cancelled"
    # Let a few print runs pass (one a second here): the letter stays out of every batch.
    later = _send(client, demo)
    assert _final(client, later)["status"] == "received"
    assert _printed(stack, nid) is None
    assert client.get_notification_by_id(nid)["status"] == "cancelled"


def test_a_worker_killed_mid_upload_does_not_print_twice(
    stack: RunningStack, demo: dict[str, Any], letter_db: Engine
) -> None:
    client = _client(stack, demo)
    nid = _send(client, demo)
    try:
        # The simulator takes the batch, then answers a second later: stop delivery-letter in between.
        assert eventually(lambda: _printed(stack, nid), lambda p: p is not None, timeout=60, every=0.02)
        stack.stop("delivery-letter", signal.SIGKILL)
        assert _state(letter_db, nid) == "batched"  # the printer has it; delivery-letter never heard back
    finally:
        stack.start("delivery-letter")
        stack.wait_ready(["delivery-letter"])
    assert _final(client, nid)["status"] == "received", stack.tail("delivery-letter")
    # Once the dead worker's lease ran out the batch was uploaded again, with the same key: replayed, not reprinted.
    printed = eventually(
        lambda: _printed(stack, nid), lambda p: p is not None and p["uploads"] >= 2, timeout=60
    )
    assert printed is not None and (printed["printed"], printed["uploads"]) == (1, 2)
    assert nid not in httpx.get(f"{stack.url('print-sim')}/stats", timeout=5).json()["duplicates"]
    assert _state(letter_db, nid) == "despatched"
