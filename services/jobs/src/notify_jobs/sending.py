"""From the service and template records to the checks of every row, and from a checked row to its event.

A job's rows go the same way as the public API's sends: each becomes ``notification.requested.v1`` with the values
the gateway would have computed for the same request, and a notification id derived from the job id and the row
number, so a row announced twice (a worker died before it recorded its progress) is stored once.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from notify_content.recipients.team import team_and_guest_list
from notify_contracts import NotificationRequestedV1

from .domain.rows import PreparedRow, ServiceRules, TemplateInfo

JOB_ROW_NAMESPACE = uuid.UUID("6a1f7c52-3f0e-4f59-9a55-2c2a8f2b7d10")


def notification_id(job_id: uuid.UUID, row_number: int) -> uuid.UUID:
    return uuid.uuid5(JOB_ROW_NAMESPACE, f"{job_id}:{row_number}")


def template_info(service: dict[str, Any], template: dict[str, Any]) -> TemplateInfo:
    kind = template["template_type"]
    return TemplateInfo(
        template_type=kind,
        content=template.get("content") or "",
        subject=template.get("subject"),
        sms_prefix=service["name"] if kind == "sms" and service.get("prefix_sms") else None,
        letter_contact_block=template.get("letter_contact_block"),
        postage=template.get("postage"),
    )


def service_rules(service: dict[str, Any], kind: str) -> ServiceRules:
    permissions = set(service.get("permissions") or ())
    return ServiceRules(
        allow_international_sms="international_sms" in permissions,
        allow_sms_to_uk_landlines="sms_to_uk_landlines" in permissions,
        allow_international_letters="international_letters" in permissions,
        restricted=bool(service.get("restricted")),
        allowed_recipients=team_and_guest_list(service, kind) if kind in ("sms", "email") else frozenset(),
    )


def sender_for(
    service: dict[str, Any], kind: str, sender_id: uuid.UUID | None
) -> tuple[uuid.UUID | None, Any]:
    """The job's chosen SMS sender or reply-to address, else the service's default (as the public API does)."""
    if kind == "sms":
        options, field = service.get("sms_senders", []), "sms_sender"
    elif kind == "email":
        options, field = service.get("email_reply_to", []), "email_address"
    else:
        return None, None
    live = [o for o in options if not o["archived"]]
    chosen = next((o for o in live if sender_id and o["id"] == str(sender_id)), None)
    chosen = chosen or next((o for o in live if o["is_default"]), None)
    if chosen is None:
        return None, "" if kind == "sms" else None
    return uuid.UUID(chosen["id"]), chosen[field]


def row_event(
    row: PreparedRow,
    *,
    job: Any,
    sender: tuple[uuid.UUID | None, Any],
    created_at: datetime,
) -> NotificationRequestedV1:
    return NotificationRequestedV1(
        notification_id=notification_id(job.id, row.job_row_number),
        service_id=job.service_id,
        notification_type=job.template_type,
        template_id=job.template_id,
        template_version=job.template_version,
        recipient=row.recipient,
        normalised_recipient=row.normalised_recipient,
        personalisation=row.personalisation,
        client_reference=row.client_reference,
        api_key_id=None,
        key_type="normal",
        created_at=created_at,
        body=row.body,
        subject=row.subject,
        sender_id=sender[0],
        sender=sender[1],
        international=row.international,
        phone_prefix=row.phone_prefix,
        rate_multiplier=row.rate_multiplier,
        billable_units=row.billable_units,
        postage=row.postage,
        address_lines=list(row.address_lines) if row.address_lines else None,
        job_id=job.id,
        job_row_number=row.job_row_number,
        created_by_id=job.created_by_id,
    )
