"""Precompiled letters with the real ``notifications-python-client``: the PDF is stored, scanned and checked, its
address becomes the recipient, and ``get_pdf_for_letter`` returns it; a bad PDF ends ``validation-failed``."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from notifications_python_client.errors import HTTPError
from notifications_python_client.notifications import NotificationsAPIClient
from notify_content import LetterTemplate
from notify_content.letters import render_letter_pdf
from notify_content.recipients import validate_address
from notify_tools.launcher import RunningStack

from .helpers import eventually, status_or_none


def _pdf(*lines: str) -> bytes:
    address = validate_address(
        {f"address_line_{i}": line for i, line in enumerate(lines, start=1)}, allow_international_letters=True
    )
    rendered = LetterTemplate("Your licence", "Dear Jo,\n\nIt is ready.").render({})
    return render_letter_pdf(rendered, address, date=dt.date(2026, 11, 20)).pdf


def _client(stack: RunningStack, demo: dict[str, Any], key: str = "normal") -> NotificationsAPIClient:
    return NotificationsAPIClient(demo["api_keys"][key], base_url=stack.base_url)


def _final(client: NotificationsAPIClient, nid: str, timeout: float = 60) -> dict[str, Any]:
    return eventually(  # type: ignore[return-value]
        lambda: status_or_none(client, nid),
        lambda n: n is not None and n["status"] not in {"pending-virus-check", "accepted"},
        timeout=timeout,
    )


def test_a_precompiled_letter_is_checked_printed_and_its_pdf_served(
    stack: RunningStack, demo: dict[str, Any]
) -> None:
    client = _client(stack, demo)
    pdf = _pdf("Jo Bloggs", "1 High Street", "Paris", "France")
    response = client.send_precompiled_letter_notification("precompiled-1", io.BytesIO(pdf))
    assert set(response) == {"id", "reference", "postage"}
    assert (response["reference"], response["postage"]) == ("precompiled-1", "second")
    nid = response["id"]
    first = client.get_notification_by_id(nid)
    assert first["status"] in {"pending-virus-check", "accepted", "received"}
    assert (first["line_1"], first["line_2"], first["postcode"]) == ("Provided as PDF", None, None)

    final = _final(client, nid)
    assert final["status"] == "received", stack.tail("delivery-letter")
    assert final["postage"] == "europe"  # the address read from the PDF is abroad
    assert final["line_1"] == "Provided as PDF"
    assert client.get_pdf_for_letter(nid).read() == pdf


def test_a_pdf_that_is_not_a_letter_ends_validation_failed(stack: RunningStack, demo: dict[str, Any]) -> None:
    client = _client(stack, demo)
    nid = client.send_precompiled_letter_notification("not-a-pdf", io.BytesIO(b"%PDF-1.4 nothing else"))["id"]
    assert _final(client, nid)["status"] == "validation-failed", stack.tail("delivery-letter")


def test_a_pdf_carrying_the_eicar_signature_fails_the_virus_scan(
    stack: RunningStack, demo: dict[str, Any]
) -> None:
    client = _client(stack, demo)
    eicar = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
    nid = client.send_precompiled_letter_notification(
        "infected", io.BytesIO(_pdf("A", "B", "SW1A 1AA") + eicar)
    )["id"]
    assert _final(client, nid)["status"] == "virus-scan-failed", stack.tail("delivery-letter")
    with pytest.raises(HTTPError) as refused:
        client.get_pdf_for_letter(nid)
    assert refused.value.status_code == 400
    assert refused.value.message == [
        {"error": "BadRequestError", "message": "File did not pass the virus scan"}
    ]


def test_team_keys_cannot_send_precompiled_letters(stack: RunningStack, demo: dict[str, Any]) -> None:
    with pytest.raises(HTTPError) as refused:
        _client(stack, demo, "team").send_precompiled_letter_notification("r", io.BytesIO(b"%PDF"))
    assert refused.value.status_code == 403
    assert refused.value.message == [
        {"error": "BadRequestError", "message": "Cannot send letters with a team api key"}
    ]
