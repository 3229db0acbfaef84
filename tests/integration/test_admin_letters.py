"""A letter uploaded as a PDF through the admin API and sent with seed 000's ``send_precompiled_letter`` call: it
is checked and printed like any precompiled letter, and sending it twice gives the same notification."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from notifications_python_client.notifications import NotificationsAPIClient
from notify_content import LetterTemplate
from notify_content.letters import render_letter_pdf
from notify_content.recipients import validate_address
from notify_tools.admin_client import AdminApiError, AdminClient
from notify_tools.launcher import RunningStack

from .helpers import eventually, status_or_none


def _pdf(*lines: str) -> bytes:
    address = validate_address(
        {f"address_line_{i}": line for i, line in enumerate(lines, start=1)},
        allow_international_letters=False,
    )
    rendered = LetterTemplate("Your licence", "Dear Jo,\n\nIt is ready.").render({})
    return render_letter_pdf(rendered, address, date=dt.date(2026, 11, 20)).pdf


def test_upload_then_send_pdf_letter(stack: RunningStack, demo: dict[str, Any]) -> None:
    admin = AdminClient(stack.base_url, stack.admin_secret)
    sid = demo["service_id"]
    owner = admin.get(f"/service/{sid}")["data"]["created_by"]
    file_id = str(uuid.uuid4())
    assert admin.put_pdf(
        f"/service/{sid}/letter-upload/{file_id}",
        _pdf("Jo Bloggs", "123 Example Street", "London", "SW1A 1AA"),
    ) == {"id": file_id}
    body = {
        "filename": "letter.pdf",
        "file_id": file_id,
        "postage": "second",
        "recipient_address": {
            "addressline1": "123 Example Street",
            "addressline2": "London",
            "postcode": "SW1A 1AA",
        },
        "created_by": owner,
    }
    assert admin.post(f"/service/{sid}/send-pdf-letter", body) == {"id": file_id}
    assert admin.post(f"/service/{sid}/send-pdf-letter", body) == {"id": file_id}  # the same letter, once
    client = NotificationsAPIClient(demo["api_keys"]["normal"], base_url=stack.base_url)
    letter = eventually(
        lambda: status_or_none(client, file_id),
        lambda n: n is not None and n["status"] not in {"pending-virus-check"},
        timeout=60,
    )
    assert letter is not None and letter["type"] == "letter" and letter["reference"] == "letter.pdf"
    assert letter["status"] in ("accepted", "received"), letter["status"]

    with pytest.raises(AdminApiError) as missing:
        admin.post(f"/service/{sid}/send-pdf-letter", body | {"file_id": str(uuid.uuid4())})
    assert missing.value.status_code == 400
    with pytest.raises(AdminApiError) as bad_postage:
        admin.post(f"/service/{sid}/send-pdf-letter", body | {"postage": "pigeon"})
    assert bad_postage.value.body["message"] == {
        "postage": ["postage must be one of first, second, economy, europe, rest-of-world"]
    }
    with pytest.raises(AdminApiError) as not_pdf:
        admin.put_pdf(f"/service/{sid}/letter-upload/{uuid.uuid4()}", b"hello")
    assert not_pdf.value.status_code == 400
    admin.close()
