"""What a service's callbacks carry (behaviour.md §11; the reference's ``callbacks__*.json`` schemas) and when they
are owed, as pure functions of the stored rows.

Every timestamp is Notify's format (UTC, six fractional digits, ``Z``); ``template_version`` and
``spreadsheet_row_number`` are the only numbers.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from notify_content.recipients import is_smoke_test_recipient

from .formatting import ts

DELIVERY_STATUS = "delivery_status"
COMPLAINT = "complaint"
RETURNED_LETTER = "returned_letter"
INBOUND_SMS = "inbound_sms"

# A delivery-status callback follows every status a provider's receipt (or the sending timeout) gives a text or an
# email; not the platform's own steps before that (created, sending, pending).
STATUSES_CALLED_BACK = frozenset(
    {"sent", "delivered", "permanent-failure", "temporary-failure", "technical-failure"}
)


@dataclass(frozen=True)
class Callback:
    """One callback to queue: for the service's configuration of ``callback_type``, once per ``dedupe_key``."""

    service_id: uuid.UUID
    callback_type: str
    dedupe_key: str
    payload: dict[str, Any]


def delivery_status_owed(notification_type: str, status: str, normalised_recipient: str) -> bool:
    """Texts and emails (never letters), for receipt statuses, never for smoke-test recipients (test keys yes)."""
    return (
        notification_type in ("sms", "email")
        and status in STATUSES_CALLED_BACK
        and not is_smoke_test_recipient(normalised_recipient)
    )


def delivery_status(
    notification: Any, *, status: str, completed_at: datetime | None, event_id: uuid.UUID
) -> Callback:
    return Callback(
        service_id=notification.service_id,
        callback_type=DELIVERY_STATUS,
        dedupe_key=f"{DELIVERY_STATUS}:{event_id}",
        payload={
            "id": str(notification.id),
            "reference": notification.client_reference,
            "to": notification.recipient,
            "status": status,
            "created_at": ts(notification.created_at),
            "completed_at": ts(completed_at),
            "sent_at": ts(notification.sent_at),
            "notification_type": notification.notification_type,
            "template_id": str(notification.template_id),
            "template_version": int(notification.template_version),
        },
    )


def complaint(notification: Any, *, complaint_id: uuid.UUID, complaint_date: datetime) -> Callback:
    return Callback(
        service_id=notification.service_id,
        callback_type=COMPLAINT,
        dedupe_key=f"{COMPLAINT}:{complaint_id}",
        payload={
            "notification_id": str(notification.id),
            "complaint_id": str(complaint_id),
            "reference": notification.client_reference,
            "to": notification.recipient,
            "complaint_date": ts(complaint_date),
        },
    )


def inbound_sms(
    *,
    service_id: uuid.UUID,
    inbound_id: uuid.UUID,
    source_number: str,
    destination_number: str,
    message: str,
    date_received: datetime,
) -> Callback:
    return Callback(
        service_id=service_id,
        callback_type=INBOUND_SMS,
        dedupe_key=f"{INBOUND_SMS}:{inbound_id}",
        payload={
            "id": str(inbound_id),
            "source_number": source_number,
            "destination_number": destination_number,
            "message": message,
            "date_received": ts(date_received),
        },
    )


def returned_letter(
    notification: Any,
    *,
    sent_by: str | None,
    template_name: str | None,
    spreadsheet_file_name: str | None,
    upload_letter_file_name: str | None,
) -> Callback:
    """``notification`` also needs ``api_key_id`` (sent through the API: the reference is given and ``sent_by`` is
    ``API``) and ``job_row_number``. Precompiled and uploaded letters have no template version."""
    through_api = notification.api_key_id is not None
    precompiled = template_name is None or upload_letter_file_name is not None
    return Callback(
        service_id=notification.service_id,
        callback_type=RETURNED_LETTER,
        dedupe_key=f"{RETURNED_LETTER}:{notification.id}",
        payload={
            "notification_id": str(notification.id),
            "reference": notification.client_reference if through_api else None,
            "date_sent": ts(notification.created_at),
            "sent_by": "API" if through_api else sent_by,
            "template_name": template_name,
            "template_id": None if precompiled else str(notification.template_id),
            "template_version": None if precompiled else int(notification.template_version),
            "spreadsheet_file_name": spreadsheet_file_name,
            # The row as the sender's spreadsheet numbers it: the header is row 1, the first recipient row 2.
            "spreadsheet_row_number": (
                notification.job_row_number + 2 if notification.job_row_number is not None else None
            ),
            "upload_letter_file_name": upload_letter_file_name,
        },
    )
