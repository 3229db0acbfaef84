"""Service update attributes that are really the service's default senders (seed 000's ``sms_sender``,
``reply_to_email_address``, ``letter_contact_block``): validated, then stored as the default of their kind."""

from __future__ import annotations

import uuid

from notify_content.errors import ContentError
from notify_content.recipients import validate_email_address
from sqlalchemy.engine import Connection

from ..adapters.senders import set_default_value
from .errors import AdminError


def apply_sender_settings(conn: Connection, service_id: uuid.UUID, settings: dict[str, str]) -> bool:
    """Returns whether any default sender changed."""
    if "reply_to_email_address" in settings:
        try:
            validate_email_address(settings["reply_to_email_address"])
        except ContentError as exc:
            raise AdminError(400, {"reply_to_email_address": ["Not a valid email address"]}) from exc
    changed = False
    for kind, value in settings.items():
        changed = set_default_value(conn, service_id, kind, value.strip()) or changed
    return changed
