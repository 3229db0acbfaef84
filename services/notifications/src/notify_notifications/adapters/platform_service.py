"""The platform's own service, which sends admin users their messages (sign-in codes, reply-to checks, a service
going live, changed contact details) through the ordinary send path: a system user, a service and one template per
message, made on first use (safe when first used concurrently)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from notify_content.keys import insensitive
from notify_content.placeholders import fill
from notify_content.recipients import validate_email_address, validate_phone_number
from notify_contracts import NotificationRequestedV1
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Connection

from ..settings import Settings
from .tables import services, sms_senders, template_versions, templates, users

SMS_CODE_CONTENT = "((verify_code)) is your Notify security code"
EMAIL_CODE_SUBJECT = "Sign in to Notify"
EMAIL_CODE_CONTENT = (
    "Hi ((name)),\n\nSign in to Notify with this link:\n\n((url))\n\n"
    "The link works once and expires in 30 minutes."
)
REPLY_TO_CHECK_SUBJECT = "Your reply-to email address"
REPLY_TO_CHECK_CONTENT = (
    "This is a test email from ((service_name)) on Notify, to check that replies can reach this address.\n\n"
    "You do not need to reply."
)
# template key → (channel, subject, content)
TEMPLATES = {
    "sms": ("sms", None, SMS_CODE_CONTENT),
    "email": ("email", EMAIL_CODE_SUBJECT, EMAIL_CODE_CONTENT),
    "reply-to-check": ("email", REPLY_TO_CHECK_SUBJECT, REPLY_TO_CHECK_CONTENT),
    "go-live": (
        "email",
        "((service_name)) is now live on Notify",
        "Hi ((name)),\n\n((service_name)) is now live on Notify: it can send messages to anyone.",
    ),
    "email-changed": (
        "email",
        "Your Notify email address has changed",
        "Hi ((name)),\n\nYour email address for signing in to Notify is now this one.\n\n"
        "If you did not expect this, tell your service's team manager.",
    ),
    "mobile-changed": ("sms", None, "Your mobile number for Notify security codes has changed to this one."),
}


@dataclass(frozen=True)
class PlatformService:
    service_id: uuid.UUID
    user_id: uuid.UUID
    name: str
    sms_sender: str

    def template_id(self, key: str) -> uuid.UUID:
        """The id of one of ``TEMPLATES`` (stable, derived from the service id)."""
        return uuid.uuid5(self.service_id, f"verify-code-{key}")


def for_settings(settings: Settings) -> PlatformService:
    return PlatformService(
        service_id=uuid.UUID(settings.notify_service_id),
        user_id=uuid.UUID(settings.notify_service_user_id),
        name=settings.notify_service_name,
        sms_sender=settings.default_sms_sender,
    )


def ensure(conn: Connection, platform: PlatformService) -> None:
    """Create whatever is missing of the system user, the service, its SMS sender and its templates (each insert
    skips a row that exists, so concurrent first uses and templates added in later releases are both fine)."""
    if conn.execute(select(services.c.id).where(services.c.id == platform.service_id)).first() is None:
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
        # A team may already have a service with the platform's name: then the platform's takes a suffixed one.
        for name in (platform.name, f"{platform.name} ({platform.service_id.hex[:8]})"):
            conn.execute(
                insert(services)
                .values(
                    id=platform.service_id,
                    name=name,
                    active=True,
                    restricted=False,
                    prefix_sms=False,
                    email_sender_local_part="notify.platform." + platform.service_id.hex[:8],
                    permissions=["sms", "email"],
                    created_by_id=platform.user_id,
                )
                .on_conflict_do_nothing()
            )
            if conn.execute(select(services.c.id).where(services.c.id == platform.service_id)).first():
                break
        conn.execute(
            insert(sms_senders)
            .values(
                id=uuid.uuid5(platform.service_id, "sms-sender"),
                service_id=platform.service_id,
                sms_sender=platform.sms_sender,
                is_default=True,
            )
            .on_conflict_do_nothing()
        )
    now = datetime.now(UTC)
    for key, (channel, subject, content) in TEMPLATES.items():
        values = {
            "id": platform.template_id(key),
            "service_id": platform.service_id,
            "name": f"Platform message ({key})",
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
        conn.execute(insert(templates).values(**values).on_conflict_do_nothing())
        conn.execute(insert(template_versions).values(**values).on_conflict_do_nothing())


def message(platform: PlatformService, key: str, to: str, values: dict[str, str]) -> NotificationRequestedV1:
    """The ``notification.requested`` event of one platform message to ``to``, rendered with ``values``.

    Raises ``ContentError`` for a recipient that is not a valid address or number of the message's channel."""
    channel, subject, content = TEMPLATES[key]
    filled = insensitive(values)
    common: dict[str, object] = {
        "notification_id": uuid.uuid4(),
        "service_id": platform.service_id,
        "notification_type": channel,
        "template_id": platform.template_id(key),
        "template_version": 1,
        "key_type": "normal",
        "created_at": datetime.now(UTC),
    }
    if channel == "sms":
        phone = validate_phone_number(to)
        return NotificationRequestedV1(
            **common,
            recipient=phone.submitted,
            normalised_recipient=phone.normalised,
            body=fill(content, filled, list_style="inline"),
            sender=platform.sms_sender,
            international=phone.international,
            phone_prefix=phone.country_prefix,
            rate_multiplier=phone.rate_multiplier,
            billable_units=1,
        )
    address = validate_email_address(to)
    return NotificationRequestedV1(
        **common,
        recipient=address.submitted,
        normalised_recipient=address.normalised,
        body=fill(content, filled, list_style="bullets"),
        subject=fill(subject or "", filled, list_style="inline"),
    )
