"""Admin routes for a service's senders (admin-api.md §12.1–12.3): SMS senders, email reply-to addresses and
letter contact blocks. One shape for all three: list, read, create, update, archive, with exactly one default
among those not archived. Every change drops the gateway's cached copy of the service."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from notify_content.errors import ContentError
from notify_content.recipients import validate_email_address
from notify_contracts import TemplateChangedV1
from pydantic import BaseModel
from sqlalchemy import Table, func, select, update
from sqlalchemy.engine import Connection

from ..adapters.tables import email_reply_to, letter_contacts, sms_senders, templates
from ..domain.formatting import ts
from .admin_api_keys import publish
from .admin_services import announce, load_service
from .admin_templates import set_contact_block
from .deps import Ctx
from .errors import AdminError, not_found

router = APIRouter()


@dataclass(frozen=True)
class Kind:
    path: str
    table: Table
    field: str  # the value's name in bodies and answers
    column: str
    noun: str  # in messages
    bare_writes: bool  # create/update answer the bare object (SMS senders) rather than {"data": …}
    no_default: str
    archive_default: str


SMS = Kind(
    "sms-sender",
    sms_senders,
    "sms_sender",
    "sms_sender",
    "SMS sender",
    True,
    "You must have at least one SMS sender as the default",
    "You cannot delete a default sms sender",
)
REPLY_TO = Kind(
    "email-reply-to",
    email_reply_to,
    "email_address",
    "email_address",
    "reply to email address",
    False,
    "You must have at least one reply to email address as the default.",
    "You cannot delete a default email reply to address",
)
LETTER = Kind(
    "letter-contact",
    letter_contacts,
    "contact_block",
    "contact_block",
    "letter contact block",
    False,
    "You must have at least one letter contact block as the default.",
    "You cannot delete a default letter contact block",
)
KINDS = (SMS, REPLY_TO, LETTER)
LETTER_CONTACT_MAX_LINES = 10


def sender_json(kind: Kind, row: Any) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "service_id": str(row.service_id),
        kind.field: getattr(row, kind.column),
        "is_default": row.is_default,
        "archived": row.archived,
        "inbound_number_id": _inbound_number_id(row),
        "created_at": ts(row.created_at),
        "updated_at": ts(row.updated_at),
    }


def _inbound_number_id(row: Any) -> str | None:
    """Set on the SMS sender that is the service's inbound number (admin-api.md §12.4)."""
    value = getattr(row, "inbound_number_id", None)
    return str(value) if value is not None else None


def check_value(kind: Kind, value: Any) -> str:
    """The sender's text, cleaned, or a 400 naming the field."""
    text = value.strip() if isinstance(value, str) else ""
    problem = None
    if not text:
        problem = "Missing data for required field." if value is None else "Must not be empty"
    elif kind is SMS and len(text) > 11:
        problem = "sms_sender must be 11 characters or fewer"
    elif kind is REPLY_TO:
        try:
            text = validate_email_address(text).submitted
        except ContentError:
            problem = "Not a valid email address"
    elif kind is LETTER and len(text.splitlines()) > LETTER_CONTACT_MAX_LINES:
        problem = f"Contact block must be {LETTER_CONTACT_MAX_LINES} lines or fewer"
    if problem:
        raise AdminError(400, {kind.field: [problem]})
    return text


class SenderBody(BaseModel):
    sms_sender: Any = None
    email_address: Any = None
    contact_block: Any = None
    is_default: bool = False


def _answer(kind: Kind, data: dict[str, Any], status: int, *, bare: bool) -> JSONResponse:
    return JSONResponse(data if bare else {"data": data}, status_code=status)


def _live(conn: Connection, kind: Kind, service_id: uuid.UUID) -> list[Any]:
    t = kind.table
    return conn.execute(
        select(t)
        .where(t.c.service_id == service_id, t.c.archived.is_(False))
        .order_by(t.c.is_default.desc(), t.c.created_at, t.c.id)
    ).all()


def _one(
    conn: Connection, kind: Kind, service_id: uuid.UUID, sender_id: uuid.UUID, *, lock: bool = False
) -> Any:
    t = kind.table
    query = select(t).where(t.c.id == sender_id, t.c.service_id == service_id)
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise not_found()
    return row


def clash(conn: Connection, kind: Kind, service_id: uuid.UUID, value: str, exclude: uuid.UUID | None) -> None:
    if kind is not REPLY_TO:
        return
    t = kind.table
    query = select(t.c.id).where(
        t.c.service_id == service_id, t.c.archived.is_(False), func.lower(t.c.email_address) == value.lower()
    )
    if exclude is not None:
        query = query.where(t.c.id != exclude)
    if conn.execute(query).first() is not None:
        raise AdminError(409, f"‘{value}’ is already a reply-to email address for this service.")


def _undefault_others(conn: Connection, kind: Kind, service_id: uuid.UUID, keep: uuid.UUID) -> None:
    t = kind.table
    conn.execute(
        update(t)
        .where(t.c.service_id == service_id, t.c.id != keep, t.c.is_default.is_(True))
        .values(is_default=False, updated_at=datetime.now(UTC))
    )


def _follow_contact(
    conn: Connection, service_id: uuid.UUID, contact_id: uuid.UUID, block: str | None
) -> None:
    """Letter templates that use this contact block print its new text (or none, once it is archived)."""
    using = conn.execute(
        select(templates).where(templates.c.service_id == service_id, templates.c.reply_to == contact_id)
    ).all()
    for template in using:
        set_contact_block(conn, template, contact_id if block is not None else None, block)
        publish(
            conn, TemplateChangedV1(service_id=service_id, template_id=template.id, version=template.version)
        )


def _register(kind: Kind) -> None:
    base = f"/service/{{service_id}}/{kind.path}"

    async def list_senders(service_id: uuid.UUID, ctx: Ctx) -> list[dict[str, Any]]:
        def fetch(conn: Connection) -> list[dict[str, Any]]:
            load_service(conn, service_id)
            return [sender_json(kind, r) for r in _live(conn, kind, service_id)]

        return await ctx.db.transaction(fetch)

    async def get_sender(service_id: uuid.UUID, sender_id: uuid.UUID, ctx: Ctx) -> dict[str, Any]:
        return await ctx.db.transaction(
            lambda conn: sender_json(kind, _one(conn, kind, service_id, sender_id))
        )

    async def create_sender(service_id: uuid.UUID, body: SenderBody, ctx: Ctx) -> JSONResponse:
        value = check_value(kind, getattr(body, kind.field))

        def create(conn: Connection) -> dict[str, Any]:
            load_service(conn, service_id, lock=True)
            clash(conn, kind, service_id, value, None)
            existing = _live(conn, kind, service_id)
            if not body.is_default and not any(r.is_default for r in existing):
                raise AdminError(400, kind.no_default)
            sender_id = uuid.uuid4()
            conn.execute(
                kind.table.insert().values(
                    id=sender_id, service_id=service_id, is_default=body.is_default, **{kind.column: value}
                )
            )
            if body.is_default:
                _undefault_others(conn, kind, service_id, sender_id)
            announce(conn, service_id, f"{kind.path}_changed")
            return sender_json(kind, _one(conn, kind, service_id, sender_id))

        result = await ctx.db.transaction(create)
        ctx.published()
        return _answer(kind, result, 201, bare=kind.bare_writes)

    async def update_sender(
        service_id: uuid.UUID, sender_id: uuid.UUID, body: SenderBody, ctx: Ctx
    ) -> JSONResponse:
        value = check_value(kind, getattr(body, kind.field))

        def change(conn: Connection) -> dict[str, Any]:
            load_service(conn, service_id, lock=True)
            current = _one(conn, kind, service_id, sender_id, lock=True)
            if current.archived:
                raise AdminError(400, f"You cannot change an archived {kind.noun}")
            if _inbound_number_id(current) and value != getattr(current, kind.column):
                raise AdminError(400, f"You can not change the inbound number for service {service_id}")
            clash(conn, kind, service_id, value, sender_id)
            if current.is_default and not body.is_default:
                raise AdminError(400, kind.no_default)
            conn.execute(
                update(kind.table)
                .where(kind.table.c.id == sender_id)
                .values(is_default=body.is_default, updated_at=datetime.now(UTC), **{kind.column: value})
            )
            if body.is_default:
                _undefault_others(conn, kind, service_id, sender_id)
            if kind is LETTER:
                _follow_contact(conn, service_id, sender_id, value)
            announce(conn, service_id, f"{kind.path}_changed")
            return sender_json(kind, _one(conn, kind, service_id, sender_id))

        result = await ctx.db.transaction(change)
        ctx.published()
        return _answer(kind, result, 200, bare=kind.bare_writes)

    async def archive_sender(service_id: uuid.UUID, sender_id: uuid.UUID, ctx: Ctx) -> dict[str, Any]:
        def archive(conn: Connection) -> dict[str, Any]:
            load_service(conn, service_id, lock=True)
            current = _one(conn, kind, service_id, sender_id, lock=True)
            if _inbound_number_id(current):
                raise AdminError(400, "You cannot delete an inbound number")
            if current.is_default and not current.archived:
                raise AdminError(400, kind.archive_default)
            conn.execute(
                update(kind.table)
                .where(kind.table.c.id == sender_id)
                .values(archived=True, updated_at=datetime.now(UTC))
            )
            if kind is LETTER:
                _follow_contact(conn, service_id, sender_id, None)
            announce(conn, service_id, f"{kind.path}_changed")
            return sender_json(kind, _one(conn, kind, service_id, sender_id))

        result = await ctx.db.transaction(archive)
        ctx.published()
        return {"data": result}

    router.add_api_route(base, list_senders, methods=["GET"])
    router.add_api_route(base, create_sender, methods=["POST"], status_code=201)
    router.add_api_route(f"{base}/{{sender_id}}", get_sender, methods=["GET"])
    router.add_api_route(f"{base}/{{sender_id}}", update_sender, methods=["POST"])
    router.add_api_route(f"{base}/{{sender_id}}/archive", archive_sender, methods=["POST"])


for _kind in KINDS:
    _register(_kind)
