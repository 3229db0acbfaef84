"""Rows the handler tests need before they can start: a user and a service of theirs, written directly."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from notify_notifications.adapters.tables import services, users
from sqlalchemy.engine import Connection


def add_user_and_service(
    conn: Connection, *, permissions: Sequence[str] = ("sms",), email_address: str | None = None
) -> tuple[uuid.UUID, uuid.UUID]:
    """A user and a live service they created, with these permissions. Returns (user id, service id)."""
    user_id, service_id = uuid.uuid4(), uuid.uuid4()
    conn.execute(
        users.insert().values(
            id=user_id,
            name="U",
            email_address=email_address or f"{user_id}@example.gov.uk",
            password_hash="x",
        )
    )
    conn.execute(
        services.insert().values(
            id=service_id,
            name=f"S {service_id}",
            email_sender_local_part=f"s.{service_id}",
            permissions=list(permissions),
            created_by_id=user_id,
        )
    )
    return user_id, service_id
