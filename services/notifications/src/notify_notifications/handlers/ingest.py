"""notification.requested → a stored notification plus its delivery request, in one transaction.

Idempotent: the notification id is the primary key, so a redelivered event inserts nothing and, because outbox
rows are written only for rows this transaction inserted, queues nothing twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from notify_contracts import (
    EmailDeliveryRequestedV1,
    Envelope,
    Event,
    LetterDeliveryRequestedV1,
    NotificationRequestedV1,
    SmsDeliveryRequestedV1,
    new_envelope,
)
from notify_platform import outbox
from notify_platform.logging import get_logger
from sqlalchemy import select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Connection

from ..adapters.tables import notifications, services, template_versions
from ..adapters.tables import outbox as outbox_table

PRODUCER = "notifications"
log = get_logger(__name__)
_INSERT = insert(notifications).on_conflict_do_nothing(index_elements=["id"]).returning(notifications.c.id)


def _row(p: NotificationRequestedV1) -> dict[str, Any]:
    return {
        "id": p.notification_id,
        "service_id": p.service_id,
        "template_id": p.template_id,
        "template_version": p.template_version,
        "notification_type": p.notification_type,
        "key_type": p.key_type,
        "api_key_id": p.api_key_id,
        "recipient": p.recipient,
        "normalised_recipient": p.normalised_recipient,
        "personalisation": p.personalisation,
        "client_reference": p.client_reference,
        "status": "pending-virus-check" if p.precompiled else "created",
        "body": p.body,
        "subject": p.subject,
        "sender": p.sender,
        "international": p.international,
        "phone_prefix": p.phone_prefix,
        "rate_multiplier": p.rate_multiplier,
        "billable_units": p.billable_units,
        "postage": p.postage,
        "one_click_unsubscribe_url": p.one_click_unsubscribe_url,
        "job_id": p.job_id,
        "job_row_number": p.job_row_number,
        "created_by_id": p.created_by_id,
        "created_at": p.created_at,
    }


def _delivery_request(
    p: NotificationRequestedV1, service: Any, email_domain: str, contact_block: str | None = None
) -> Event:
    if p.notification_type == "sms":
        text = f"{service.name}: {p.body}" if service.prefix_sms else p.body
        return SmsDeliveryRequestedV1(
            notification_id=p.notification_id,
            service_id=p.service_id,
            to=p.normalised_recipient,
            content=text,
            sender=p.sender or "",
            key_type=p.key_type,
            international=p.international,
            created_at=p.created_at,
        )
    if p.notification_type == "email":
        return EmailDeliveryRequestedV1(
            notification_id=p.notification_id,
            service_id=p.service_id,
            to=p.recipient,
            subject=p.subject or "",
            body=p.body,
            from_address=f"{service.email_sender_local_part}@{email_domain}",
            reply_to=p.sender,
            one_click_unsubscribe_url=p.one_click_unsubscribe_url,
            key_type=p.key_type,
            created_at=p.created_at,
        )
    return LetterDeliveryRequestedV1(
        notification_id=p.notification_id,
        service_id=p.service_id,
        template_id=p.template_id,
        template_version=p.template_version,
        address_lines=list(p.address_lines or []),
        body=p.body,
        subject=p.subject,
        postage=p.postage or "second",
        key_type=p.key_type,
        created_at=p.created_at,
        contact_block=contact_block,
        precompiled=p.precompiled,
    )


def _letter_contact_blocks(
    conn: Connection, payloads: Sequence[NotificationRequestedV1]
) -> dict[tuple[Any, int], str | None]:
    """The contact block of each letter's template version (printed top right of the first page)."""
    wanted = {(p.template_id, p.template_version) for p in payloads if p.notification_type == "letter"}
    if not wanted:
        return {}
    tv = template_versions
    rows = conn.execute(
        select(tv.c.id, tv.c.version, tv.c.letter_contact_block).where(
            tuple_(tv.c.id, tv.c.version).in_(list(wanted))
        )
    )
    return {(row.id, row.version): row.letter_contact_block for row in rows}


def ingest(conn: Connection, envelopes: Sequence[Envelope[Any]], *, email_domain: str) -> int:
    """Store every new notification and queue its delivery. Returns the number newly stored."""
    payloads: dict[Any, tuple[Envelope[Any], NotificationRequestedV1]] = {}
    for env in envelopes:
        payloads.setdefault(env.payload.notification_id, (env, env.payload))
    if not payloads:
        return 0
    # One cached statement sent as an executemany (SQLAlchemy batches it into multi-row VALUES with RETURNING):
    # a statement built with .values([...]) is compiled afresh for every batch, which was a fifth of the CPU.
    inserted = set(conn.execute(_INSERT, [_row(p) for _, p in payloads.values()]).scalars())
    if not inserted:
        return 0
    service_ids = {payloads[i][1].service_id for i in inserted}
    by_id = {
        s.id: s
        for s in conn.execute(
            select(
                services.c.id, services.c.name, services.c.prefix_sms, services.c.email_sender_local_part
            ).where(services.c.id.in_(service_ids))
        )
    }
    contact_blocks = _letter_contact_blocks(conn, [payloads[i][1] for i in inserted])
    events = []
    for notification_id in inserted:
        env, payload = payloads[notification_id]
        contact_block = contact_blocks.get((payload.template_id, payload.template_version))
        events.append(
            new_envelope(
                _delivery_request(payload, by_id[payload.service_id], email_domain, contact_block),
                producer=PRODUCER,
                correlation_id=env.correlation_id,
                causation_id=str(env.event_id),
            )
        )
    outbox.write(conn, outbox_table, events)
    for notification_id in inserted:
        env, payload = payloads[notification_id]
        log.info(
            "notification.stored",
            notification_id=str(notification_id),
            service_id=str(payload.service_id),
            notification_type=payload.notification_type,
            correlation_id=env.correlation_id,
        )
    return len(inserted)
