"""Internal reads for the gateway (never exposed outside the cluster; NetworkPolicy allows only the gateway).

The gateway caches these briefly and drops its cache on service/key/template change events.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from ..adapters.tables import (
    api_keys,
    email_reply_to,
    guest_list,
    notifications,
    service_users,
    services,
    sms_senders,
    template_versions,
    templates,
    users,
)
from ..domain.formatting import ts
from ..domain.statuses import COMPLETED
from .deps import Ctx
from .errors import not_found

router = APIRouter(prefix="/internal")
KEYS_RECOGNISED_AFTER_REVOCATION = timedelta(days=7)


@router.get("/services/{service_id}/auth")
async def service_for_auth(service_id: uuid.UUID, ctx: Ctx, keys: bool = True) -> dict[str, Any]:
    """Everything the gateway needs to authenticate and check a send, in one read. ``keys=false`` leaves out the
    API keys (jobs checks sends but never authenticates a caller, so it is never given key secrets)."""
    cutoff = datetime.now(UTC) - KEYS_RECOGNISED_AFTER_REVOCATION

    def fetch(conn: Connection) -> dict[str, Any]:
        service = conn.execute(select(services).where(services.c.id == service_id)).first()
        if service is None:
            raise not_found()
        service_keys = (
            conn.execute(
                select(api_keys).where(
                    api_keys.c.service_id == service_id,
                    api_keys.c.expiry_date.is_(None) | (api_keys.c.expiry_date > cutoff),
                )
            ).all()
            if keys
            else []
        )
        senders = conn.execute(select(sms_senders).where(sms_senders.c.service_id == service_id)).all()
        reply_to = conn.execute(select(email_reply_to).where(email_reply_to.c.service_id == service_id)).all()
        team = conn.execute(
            select(users.c.id, users.c.name, users.c.email_address, users.c.mobile_number)
            .join(service_users, service_users.c.user_id == users.c.id)
            .where(service_users.c.service_id == service_id)
        ).all()
        guests = conn.execute(select(guest_list).where(guest_list.c.service_id == service_id)).all()
        return {
            "id": str(service.id),
            "name": service.name,
            "active": service.active,
            "restricted": service.restricted,
            "permissions": list(service.permissions),
            "rate_limit": service.rate_limit,
            "prefix_sms": service.prefix_sms,
            "email_sender_local_part": service.email_sender_local_part,
            "contact_link": service.contact_link,
            "limits": {
                "sms": service.sms_message_limit,
                "email": service.email_message_limit,
                "letter": service.letter_message_limit,
                "international_sms": service.international_sms_message_limit,
            },
            "api_keys": [
                {
                    "id": str(k.id),
                    "secret": ctx.box.decrypt(k.secret_encrypted),
                    "key_type": k.key_type,
                    "expiry_date": k.expiry_date.isoformat() if k.expiry_date else None,
                }
                for k in service_keys
            ],
            "sms_senders": [
                {
                    "id": str(s.id),
                    "sms_sender": s.sms_sender,
                    "is_default": s.is_default,
                    "archived": s.archived,
                }
                for s in senders
            ],
            "email_reply_to": [
                {
                    "id": str(r.id),
                    "email_address": r.email_address,
                    "is_default": r.is_default,
                    "archived": r.archived,
                }
                for r in reply_to
            ],
            "team_members": [
                {
                    "id": str(t.id),
                    "name": t.name,
                    "email_address": t.email_address,
                    "mobile_number": t.mobile_number,
                }
                for t in team
            ],
            "guest_list": [{"type": g.recipient_type, "recipient": g.recipient} for g in guests],
        }

    return await ctx.db.transaction(fetch)


def template_dict(row: Any, created_by_email: str | None) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "service_id": str(row.service_id),
        "name": row.name,
        "template_type": row.template_type,
        "content": row.content,
        "subject": row.subject,
        "postage": row.postage,
        "archived": row.archived,
        "hidden": row.hidden,
        "letter_contact_block": row.letter_contact_block,
        "has_unsubscribe_link": row.has_unsubscribe_link,
        "version": row.version,
        "created_at": ts(row.created_at),
        "updated_at": ts(row.updated_at),
        "created_by": created_by_email,
    }


@router.get("/services/{service_id}/templates/{template_id}")
async def template_for_service(
    service_id: uuid.UUID, template_id: uuid.UUID, ctx: Ctx, version: int | None = None
) -> dict[str, Any]:
    """The latest version, or the given one. Another service's template is simply not found."""

    def fetch(conn: Connection) -> dict[str, Any]:
        if version:
            table = template_versions
            query = select(table).where(table.c.id == template_id, table.c.version == version)
        else:
            table = templates
            query = select(table).where(table.c.id == template_id)
        row = conn.execute(query.where(table.c.service_id == service_id)).first()
        if row is None:
            raise not_found()
        email = conn.execute(select(users.c.email_address).where(users.c.id == row.created_by_id)).scalar()
        return template_dict(row, email)

    return await ctx.db.transaction(fetch)


def notification_dict(row: Any, created_by_name: str | None = None) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "service_id": str(row.service_id),
        "template_id": str(row.template_id),
        "template_version": row.template_version,
        "notification_type": row.notification_type,
        "key_type": row.key_type,
        "recipient": row.recipient,
        "personalisation": row.personalisation,
        "client_reference": row.client_reference,
        "status": row.status,
        "body": row.body,
        "subject": row.subject,
        "postage": row.postage,
        "international": row.international,
        "rate_multiplier": row.rate_multiplier,
        "billable_units": row.billable_units,
        "one_click_unsubscribe_url": row.one_click_unsubscribe_url,
        "job_id": str(row.job_id) if row.job_id else None,
        "created_by_name": created_by_name,
        "created_at": ts(row.created_at),
        "sent_at": ts(row.sent_at),
        "updated_at": ts(row.updated_at),
        "completed_at": ts(row.updated_at) if row.status in COMPLETED else None,
    }


def sender_names(conn: Connection, rows: list[Any]) -> dict[Any, str]:
    """Names of the users who sent one-off notifications among ``rows`` (most have none: no query then)."""
    ids = {r.created_by_id for r in rows if r.created_by_id}
    if not ids:
        return {}
    return dict(conn.execute(select(users.c.id, users.c.name).where(users.c.id.in_(ids))).all())


@router.get("/services/{service_id}/notifications/{notification_id}")
async def notification_for_service(
    service_id: uuid.UUID, notification_id: uuid.UUID, ctx: Ctx
) -> dict[str, Any]:
    def fetch(conn: Connection) -> dict[str, Any]:
        row = conn.execute(
            select(notifications).where(
                notifications.c.id == notification_id, notifications.c.service_id == service_id
            )
        ).first()
        if row is None:
            raise not_found()
        return notification_dict(row, sender_names(conn, [row]).get(row.created_by_id))

    return await ctx.db.transaction(fetch)


PRECOMPILED_TEMPLATE_NAME = "Pre-compiled PDF"


def precompiled_template(conn: Connection, service_id: uuid.UUID) -> dict[str, Any] | None:
    """The service's hidden letter template that precompiled letters are recorded against, made on first use.

    Hidden templates are never listed, read through the public API, or usable for templated sends. A transaction
    advisory lock per service makes the first use under concurrency create exactly one.
    """
    conn.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"precompiled:{service_id}"))))
    query = select(templates).where(
        templates.c.service_id == service_id,
        templates.c.hidden.is_(True),
        templates.c.template_type == "letter",
        templates.c.name == PRECOMPILED_TEMPLATE_NAME,
    )
    row = conn.execute(query).first()
    if row is None:
        owner = conn.execute(select(services.c.created_by_id).where(services.c.id == service_id)).scalar()
        if owner is None:
            return None
        values = {
            "id": uuid.uuid4(),
            "service_id": service_id,
            "name": PRECOMPILED_TEMPLATE_NAME,
            "template_type": "letter",
            "content": "",
            "subject": PRECOMPILED_TEMPLATE_NAME,
            "postage": "second",
            "archived": False,
            "hidden": True,
            "letter_contact_block": None,
            "has_unsubscribe_link": False,
            "created_by_id": owner,
            "created_at": datetime.now(UTC),
            "version": 1,
        }
        conn.execute(templates.insert().values(**values))
        conn.execute(template_versions.insert().values(**values))
        row = conn.execute(query).one()
    return template_dict(row, None)


@router.put("/services/{service_id}/precompiled-template")
async def precompiled_template_for_service(service_id: uuid.UUID, ctx: Ctx) -> dict[str, Any]:
    template = await ctx.db.transaction(lambda conn: precompiled_template(conn, service_id))
    if template is None:
        raise not_found()
    return template
