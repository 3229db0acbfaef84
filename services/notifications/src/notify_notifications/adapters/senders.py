"""A service's senders of each kind (SMS senders, email reply-to addresses, letter contact blocks): one table each,
the same shape, at most one default that is not archived."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import Table, select, update
from sqlalchemy.engine import Connection

from .tables import email_reply_to, letter_contacts, sms_senders

# kind → (table, the column holding the sender's value)
KINDS: dict[str, tuple[Table, str]] = {
    "sms_sender": (sms_senders, "sms_sender"),
    "reply_to_email_address": (email_reply_to, "email_address"),
    "letter_contact_block": (letter_contacts, "contact_block"),
}


def set_default_value(conn: Connection, service_id: uuid.UUID, kind: str, value: str) -> bool:
    """Make ``value`` the text of the service's default sender of this kind (adding one if there is none).

    Returns whether anything changed."""
    table, column = KINDS[kind]
    current = conn.execute(
        select(table.c.id, table.c[column]).where(
            table.c.service_id == service_id, table.c.is_default.is_(True), table.c.archived.is_(False)
        )
    ).first()
    if current is None:
        conn.execute(
            table.insert().values(id=uuid.uuid4(), service_id=service_id, is_default=True, **{column: value})
        )
        return True
    if current[1] == value:
        return False
    conn.execute(
        update(table)
        .where(table.c.id == current.id)
        .values(**{column: value, "updated_at": datetime.now(UTC)})
    )
    return True
