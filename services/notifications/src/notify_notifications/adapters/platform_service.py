"""The platform's own service, which sends sign-in codes to admin users through the ordinary send path: a system
user, a service and one template per code channel, made on first use (safe when first used concurrently)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Connection

from .tables import services, sms_senders, template_versions, templates, users

SMS_CODE_CONTENT = "((verify_code)) is your Notify security code"
EMAIL_CODE_SUBJECT = "Sign in to Notify"
EMAIL_CODE_CONTENT = (
    "Hi ((name)),\n\nSign in to Notify with this link:\n\n((url))\n\n"
    "The link works once and expires in 30 minutes."
)


@dataclass(frozen=True)
class PlatformService:
    service_id: uuid.UUID
    user_id: uuid.UUID
    name: str
    sms_sender: str

    def template_id(self, channel: str) -> uuid.UUID:
        return uuid.uuid5(self.service_id, f"verify-code-{channel}")


def ensure(conn: Connection, platform: PlatformService) -> None:
    """Create the system user, the service, its SMS sender and the two code templates if missing."""
    if conn.execute(select(services.c.id).where(services.c.id == platform.service_id)).first() is not None:
        return
    conn.execute(
        insert(users)
        .values(
            id=platform.user_id,
            name="Notify service user",
            email_address=f"notify-service-user-{platform.user_id}@platform.invalid",
            password_hash="!",  # not an argon2 hash: nobody can sign in as this user
            auth_type="email_auth",
            state="active",
        )
        .on_conflict_do_nothing()
    )
    inserted = conn.execute(
        insert(services)
        .values(
            id=platform.service_id,
            name=platform.name,
            active=True,
            restricted=False,
            prefix_sms=False,
            email_sender_local_part="notify.platform." + platform.service_id.hex[:8],
            permissions=["sms", "email"],
            created_by_id=platform.user_id,
        )
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(services.c.id)
    ).first()
    if inserted is None:
        return  # made by a concurrent first use
    conn.execute(
        sms_senders.insert().values(
            id=uuid.uuid5(platform.service_id, "sms-sender"),
            service_id=platform.service_id,
            sms_sender=platform.sms_sender,
            is_default=True,
        )
    )
    now = datetime.now(UTC)
    for channel, subject, content in (
        ("sms", None, SMS_CODE_CONTENT),
        ("email", EMAIL_CODE_SUBJECT, EMAIL_CODE_CONTENT),
    ):
        values = {
            "id": platform.template_id(channel),
            "service_id": platform.service_id,
            "name": f"Verify code ({channel})",
            "template_type": channel,
            "content": content,
            "subject": subject,
            "archived": False,
            "hidden": False,
            "has_unsubscribe_link": False,
            "created_by_id": platform.user_id,
            "created_at": now,
            "version": 1,
        }
        conn.execute(templates.insert().values(**values))
        conn.execute(template_versions.insert().values(**values))
