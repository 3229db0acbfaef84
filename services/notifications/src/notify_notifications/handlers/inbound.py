"""Received texts (behaviour.md §12): ``sms.received`` from delivery-sms becomes a row of ``inbound_sms`` for the
service whose active inbound number it was sent to, and the service's ``inbound_sms`` callback is queued in the
same transaction.

The provider was answered 200 before this runs, so a text nobody can receive (a number that is not in the pool,
inactive or unassigned, or a service without the ``inbound_sms`` permission) is logged, without its numbers or
content, and dropped. The row's id is the event's ``inbound_id``, which a provider's retry repeats, so the same
report stored twice is one row and one callback.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from notify_content.errors import ContentError
from notify_content.recipients import validate_phone_number
from notify_contracts import Envelope, SmsReceivedV1
from notify_platform.logging import get_logger
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Connection

from ..adapters import callback_queue
from ..adapters.tables import inbound_numbers, inbound_sms, services
from ..domain import callbacks

log = get_logger(__name__)
INBOUND_SMS_PERMISSION = "inbound_sms"


def national_number(number: str) -> str:
    """An inbound number as the pool stores it: providers send UK numbers internationally (``447700900456``),
    the pool keeps them nationally (``07700900456``). Spaces and a leading ``+`` are dropped."""
    digits = "".join(number.split()).removeprefix("+")
    return "0" + digits[2:] if digits.startswith("44") else digits


def sender_number(number: str) -> str:
    """The sender normalised as every other phone number is (``447700900123``), or as sent when it is not one
    (a short code, an alphanumeric sender)."""
    try:
        return validate_phone_number(number).normalised
    except ContentError:
        return number.strip()


def store_received(conn: Connection, envelopes: Sequence[Envelope[Any]]) -> int:
    """Store each received text whose number belongs to a service allowed to receive texts, and queue its callback.
    Returns how many callbacks were queued."""
    texts = [env.payload for env in envelopes if isinstance(env.payload, SmsReceivedV1)]
    if not texts:
        return 0
    n = inbound_numbers.c
    owners = {
        row.number: row
        for row in conn.execute(
            select(n.number, n.service_id, services.c.permissions)
            .join(services, services.c.id == n.service_id)
            .where(n.number.in_({national_number(t.destination_number) for t in texts}), n.active.is_(True))
        )
    }
    rows: dict[uuid.UUID, dict[str, Any]] = {}
    for text in texts:
        owner = owners.get(national_number(text.destination_number))
        if owner is None:
            log.warning(
                "notifications.inbound_sms.unknown_number",
                inbound_id=str(text.inbound_id),
                provider=text.provider,
            )
            continue
        if INBOUND_SMS_PERMISSION not in owner.permissions:
            log.warning(
                "notifications.inbound_sms.not_permitted",
                inbound_id=str(text.inbound_id),
                provider=text.provider,
                service_id=str(owner.service_id),
            )
            continue
        rows[text.inbound_id] = {
            "id": text.inbound_id,
            "service_id": owner.service_id,
            "notify_number": owner.number,
            "user_number": sender_number(text.source_number),
            "content": text.message,
            "provider_date": text.received_at,
            "provider_reference": text.provider_reference,
        }
    if not rows:
        return 0
    stored = set(
        conn.execute(
            insert(inbound_sms)
            .values(list(rows.values()))
            .on_conflict_do_nothing(index_elements=["id"])
            .returning(inbound_sms.c.id)
        ).scalars()
    )
    for inbound_id in rows.keys() - stored:
        log.info("notifications.inbound_sms.already_stored", inbound_id=str(inbound_id))
    queued = callback_queue.enqueue(
        conn,
        [
            callbacks.inbound_sms(
                service_id=row["service_id"],
                inbound_id=row["id"],
                source_number=row["user_number"],
                destination_number=row["notify_number"],
                message=row["content"],
                date_received=row["provider_date"],
            )
            for row in rows.values()
            if row["id"] in stored
        ],
    )
    for row in rows.values():
        if row["id"] in stored:
            log.info(
                "notifications.inbound_sms.stored",
                inbound_id=str(row["id"]),
                service_id=str(row["service_id"]),
            )
    return queued
