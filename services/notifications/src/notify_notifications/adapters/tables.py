"""The notifications database: services, users, templates, API keys, senders, guest lists, notifications."""

from notify_platform.outbox import outbox_table
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

metadata = MetaData()
outbox = outbox_table(metadata)

users = Table(
    "users",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("email_address", String(320), nullable=False),
    Column("mobile_number", String(50), nullable=True),
    Column("password_hash", String(255), nullable=False),
    Column("auth_type", String(20), nullable=False, server_default="sms_auth"),
    Column("state", String(20), nullable=False, server_default="pending"),
    Column("platform_admin", Boolean, nullable=False, server_default="false"),
    Column("failed_login_count", Integer, nullable=False, server_default="0"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=True),
    Column("password_changed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("logged_in_at", DateTime(timezone=True), nullable=True),
    Column("current_session_id", UUID(as_uuid=True), nullable=True),
    Column("email_access_validated_at", DateTime(timezone=True), nullable=True),
    Column("take_part_in_research", Boolean, nullable=False, server_default="true"),
    Column("receives_new_features_email", Boolean, nullable=False, server_default="true"),
)
Index("uq_users_email_lower", func.lower(users.c.email_address), unique=True)

# One-time sign-in codes (admin-api.md §5.2): only an HMAC of each code is kept; single use, short-lived.
verify_codes = Table(
    "verify_codes",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("user_id", UUID(as_uuid=True), ForeignKey("users.id"), nullable=False, index=True),
    Column("code_hash", String(64), nullable=False),
    Column("code_type", String(10), nullable=False),
    Column("expiry_datetime", DateTime(timezone=True), nullable=False),
    Column("code_used", Boolean, nullable=False, server_default="false"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

services = Table(
    "services",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("name", String(255), nullable=False, unique=True),
    Column("active", Boolean, nullable=False, server_default="true"),
    Column("restricted", Boolean, nullable=False, server_default="true"),
    Column("email_message_limit", BigInteger, nullable=False, server_default="50"),
    Column("sms_message_limit", BigInteger, nullable=False, server_default="50"),
    Column("letter_message_limit", BigInteger, nullable=False, server_default="50"),
    Column("international_sms_message_limit", BigInteger, nullable=False, server_default="100"),
    Column("rate_limit", Integer, nullable=False, server_default="3000"),
    Column("prefix_sms", Boolean, nullable=False, server_default="true"),
    Column("email_sender_local_part", String(255), nullable=False),
    Column("organisation_type", String(50), nullable=True),
    Column("permissions", ARRAY(String(50)), nullable=False),
    Column("count_as_live", Boolean, nullable=False, server_default="true"),
    Column("created_by_id", UUID(as_uuid=True), ForeignKey("users.id"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=True),
    Column("version", Integer, nullable=False, server_default="1"),
    # Where recipients of "send a file by email" documents can contact the service (public-api.md §8).
    Column("contact_link", String(255), nullable=True),
    # Settings the admin app keeps on the service (admin-api.md §4.1); the platform itself does not act on them.
    Column("email_branding", String(255), nullable=True),
    Column("letter_branding", String(255), nullable=True),
    Column("billing_contact_email_addresses", Text, nullable=True),
    Column("billing_contact_names", Text, nullable=True),
    Column("billing_reference", String(255), nullable=True),
    Column("confirmed_email_sender_name", Boolean, nullable=False, server_default="false"),
    Column("go_live_at", DateTime(timezone=True), nullable=True),
    Column("notes", Text, nullable=True),
    Column("volume_email", Integer, nullable=True),
    Column("volume_letter", Integer, nullable=True),
    Column("volume_sms", Integer, nullable=True),
    Column("free_sms_fragment_limit", Integer, nullable=True),
    # Set once by archiving, which cannot be undone: an archived service refuses every further update.
    Column("archived_at", DateTime(timezone=True), nullable=True),
)

# Every version of a service's core fields (GET /service/{id}/history): version 1 on create, one per change.
services_history = Table(
    "services_history",
    metadata,
    Column("id", UUID(as_uuid=True), nullable=False),
    Column("version", Integer, nullable=False),
    Column("name", String(255), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("restricted", Boolean, nullable=False),
    Column("email_message_limit", BigInteger, nullable=False),
    Column("sms_message_limit", BigInteger, nullable=False),
    Column("letter_message_limit", BigInteger, nullable=False),
    Column("email_sender_local_part", String(255), nullable=False),
    Column("created_by_id", UUID(as_uuid=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=True),
    PrimaryKeyConstraint("id", "version"),
)

service_users = Table(
    "service_users",
    metadata,
    Column("service_id", UUID(as_uuid=True), ForeignKey("services.id"), nullable=False),
    Column("user_id", UUID(as_uuid=True), ForeignKey("users.id"), nullable=False),
    Column("permissions", ARRAY(String(50)), nullable=False),
    Column("folder_permissions", ARRAY(UUID(as_uuid=True)), nullable=False, server_default="{}"),
    PrimaryKeyConstraint("service_id", "user_id"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("service_id", UUID(as_uuid=True), ForeignKey("services.id"), nullable=False, index=True),
    Column("name", String(255), nullable=False),
    # Encrypted at rest: the gateway needs the plaintext to check HMAC signatures, so it cannot be hashed.
    Column("secret_encrypted", LargeBinary, nullable=False),
    Column("key_type", String(10), nullable=False),
    Column("expiry_date", DateTime(timezone=True), nullable=True),
    Column("created_by_id", UUID(as_uuid=True), ForeignKey("users.id"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=True),
    Column("version", Integer, nullable=False, server_default="1"),
)

_template_columns = (
    ("name", String(255), False),
    ("template_type", String(10), False),
    ("content", Text, False),
    ("subject", Text, True),
    ("postage", String(20), True),
    ("archived", Boolean, False),
    ("hidden", Boolean, False),
    ("letter_contact_block", Text, True),
    ("has_unsubscribe_link", Boolean, False),
)


def _template_cols() -> list[Column]:  # type: ignore[type-arg]
    cols = [Column(name, typ, nullable=nullable) for name, typ, nullable in _template_columns]
    return cols + [
        Column("service_id", UUID(as_uuid=True), ForeignKey("services.id"), nullable=False),
        Column("created_by_id", UUID(as_uuid=True), ForeignKey("users.id"), nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("updated_at", DateTime(timezone=True), nullable=True),
        Column("version", Integer, nullable=False),
    ]


templates = Table(
    "templates",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    *_template_cols(),
    # A letter template's chosen contact block (admin-api.md §6.2 ``reply_to``): changing it is not a new version;
    # its text is copied into ``letter_contact_block`` of the template and of its current version.
    Column("reply_to", UUID(as_uuid=True), nullable=True),
    # Once set, the admin hides this template's personalisation in its views; it cannot be unset (not versioned).
    Column("redact_personalisation", Boolean, nullable=False, server_default="false"),
)
template_versions = Table(
    "template_versions",
    metadata,
    Column("id", UUID(as_uuid=True), nullable=False),
    *_template_cols(),
    PrimaryKeyConstraint("id", "version"),
)

# Template folders (admin-api.md §6.3): a tree per service. Which folder a template is in is not part of its
# versions (moving a template is not an edit), so it lives in its own table.
template_folders = Table(
    "template_folders",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("service_id", UUID(as_uuid=True), ForeignKey("services.id"), nullable=False, index=True),
    Column("name", String(255), nullable=False),
    Column("parent_id", UUID(as_uuid=True), ForeignKey("template_folders.id"), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

template_folder_map = Table(
    "template_folder_map",
    metadata,
    Column("template_id", UUID(as_uuid=True), ForeignKey("templates.id"), primary_key=True),
    Column("folder_id", UUID(as_uuid=True), ForeignKey("template_folders.id"), nullable=False, index=True),
)

sms_senders = Table(
    "service_sms_senders",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("service_id", UUID(as_uuid=True), ForeignKey("services.id"), nullable=False, index=True),
    Column("sms_sender", String(11 + 20), nullable=False),
    Column("is_default", Boolean, nullable=False),
    Column("archived", Boolean, nullable=False, server_default="false"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=True),
    # Set when this sender is the service's inbound number (admin-api.md §12.4).
    Column("inbound_number_id", UUID(as_uuid=True), ForeignKey("inbound_numbers.id"), nullable=True),
)

email_reply_to = Table(
    "service_email_reply_to",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("service_id", UUID(as_uuid=True), ForeignKey("services.id"), nullable=False, index=True),
    Column("email_address", String(320), nullable=False),
    Column("is_default", Boolean, nullable=False),
    Column("archived", Boolean, nullable=False, server_default="false"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=True),
)

letter_contacts = Table(
    "service_letter_contacts",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("service_id", UUID(as_uuid=True), ForeignKey("services.id"), nullable=False, index=True),
    Column("contact_block", Text, nullable=False),
    Column("is_default", Boolean, nullable=False),
    Column("archived", Boolean, nullable=False, server_default="false"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=True),
)

# Where a service wants status callbacks (admin-api.md §11): one per kind. The bearer token is sent back to the
# service with every callback, so it is encrypted (not hashed) at rest.
service_callback_api = Table(
    "service_callback_api",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("service_id", UUID(as_uuid=True), ForeignKey("services.id"), nullable=False),
    Column("callback_type", String(30), nullable=False),
    Column("url", String(255), nullable=False),
    Column("bearer_token_encrypted", LargeBinary, nullable=False),
    Column("updated_by_id", UUID(as_uuid=True), ForeignKey("users.id"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("service_id", "callback_type"),
)

# Callbacks waiting to be sent or sent (behaviour.md §11): written in the transaction of what they report, then
# posted by the callback dispatcher. ``dedupe_key`` (type and the event it reports) makes queueing idempotent.
# States: pending (due at next_attempt_at), delivered, failed (a 4xx other than 429: never retried), exhausted
# (every retry used: kept for ops to replay).
callback_deliveries = Table(
    "callback_deliveries",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("service_id", UUID(as_uuid=True), nullable=False),
    Column("callback_type", String(30), nullable=False),
    Column("dedupe_key", String(120), nullable=False, unique=True),
    Column("payload", JSONB, nullable=False),
    Column("state", String(20), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("locked_until", DateTime(timezone=True), nullable=True),
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", String(200), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=True),
    Index("ix_callback_deliveries_due", "next_attempt_at", postgresql_where=text("state = 'pending'")),
    Index("ix_callback_deliveries_service_state", "service_id", "state"),
)

# Spam complaints about delivered emails (behaviour.md §9): the status does not change; the service is told.
complaints = Table(
    "complaints",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("notification_id", UUID(as_uuid=True), nullable=False),
    Column("service_id", UUID(as_uuid=True), nullable=False),
    Column("complaint_date", DateTime(timezone=True), nullable=False),
    Column("provider_reference", String(255), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_complaints_service_created", "service_id", "created_at"),
)

# Letters the print provider reported returned to sender (behaviour.md §8), one row per letter.
returned_letters = Table(
    "returned_letters",
    metadata,
    Column("notification_id", UUID(as_uuid=True), primary_key=True),
    Column("service_id", UUID(as_uuid=True), nullable=False),
    Column("reported_at", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_returned_letters_service_reported", "service_id", "reported_at"),
)

# The pool of numbers that can receive texts (admin-api.md §12.4), stored in national form (07…); at most one per
# service.
inbound_numbers = Table(
    "inbound_numbers",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("number", String(255), nullable=False, unique=True),
    Column("provider", String(50), nullable=False),
    Column("service_id", UUID(as_uuid=True), ForeignKey("services.id"), nullable=True, unique=True),
    Column("active", Boolean, nullable=False, server_default="true"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=True),
)

guest_list = Table(
    "service_guest_list",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("service_id", UUID(as_uuid=True), ForeignKey("services.id"), nullable=False, index=True),
    Column("recipient_type", String(10), nullable=False),
    Column("recipient", String(320), nullable=False),
    UniqueConstraint("service_id", "recipient_type", "recipient"),
)

notifications = Table(
    "notifications",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("service_id", UUID(as_uuid=True), nullable=False),
    Column("template_id", UUID(as_uuid=True), nullable=False),
    Column("template_version", Integer, nullable=False),
    Column("notification_type", String(10), nullable=False),
    Column("key_type", String(10), nullable=False),
    Column("api_key_id", UUID(as_uuid=True), nullable=True),
    Column("recipient", String(320), nullable=False),
    Column("normalised_recipient", String(320), nullable=False),
    Column("personalisation", JSONB, nullable=False, server_default="{}"),
    Column("client_reference", String(1000), nullable=True),
    Column("status", String(30), nullable=False),
    Column("body", Text, nullable=False),
    Column("subject", Text, nullable=True),
    Column("sender", String(320), nullable=True),
    Column("international", Boolean, nullable=False, server_default="false"),
    Column("phone_prefix", String(10), nullable=True),
    Column("rate_multiplier", Float, nullable=True),
    Column("billable_units", Integer, nullable=False, server_default="0"),
    Column("postage", String(20), nullable=True),
    Column("one_click_unsubscribe_url", Text, nullable=True),
    Column("job_id", UUID(as_uuid=True), nullable=True),
    Column("job_row_number", Integer, nullable=True),
    Column("created_by_id", UUID(as_uuid=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    Column("sent_by", String(50), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=True),
    Column("provider_reference", String(255), nullable=True),
    Index("ix_notifications_service_key_created", "service_id", "key_type", "created_at"),
    Index("ix_notifications_job_row", "job_id", "job_row_number"),
    Index("ix_notifications_service_reference", "service_id", "client_reference"),
    # The stuck-notification sweep reads only rows still in flight.
    Index(
        "ix_notifications_in_flight_created",
        "created_at",
        postgresql_where=text("status IN ('sending', 'pending')"),
    ),
)

# Text messages received on a service's inbound number (behaviour.md §12); read by GET /v2/received-text-messages.
inbound_sms = Table(
    "inbound_sms",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("service_id", UUID(as_uuid=True), nullable=False),
    Column("notify_number", String(50), nullable=False),  # the service's inbound number as stored (07…)
    Column("user_number", String(50), nullable=False),  # the sender, normalised (447…)
    Column("content", Text, nullable=False),
    Column("provider_date", DateTime(timezone=True), nullable=True),
    Column("provider_reference", String(255), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_inbound_sms_service_created", "service_id", "created_at"),
)

# Files sent by email (public-api.md §8). The content is encrypted with a per-document key that is only ever in the
# download link, never stored: this table alone cannot decrypt a document. ``recipient_hash`` is an HMAC-SHA256
# of the lower-cased recipient address keyed with that same key (set only when confirmation is on).
documents = Table(
    "documents",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("service_id", UUID(as_uuid=True), nullable=False),
    Column("filename", String(255), nullable=False),
    Column("mime_type", String(255), nullable=False),
    Column("size", Integer, nullable=False),
    Column("content_encrypted", LargeBinary, nullable=False),
    Column("confirm_email", Boolean, nullable=False),
    Column("recipient_hash", String(64), nullable=True),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_documents_expires_at", "expires_at"),
)


def version_row(template_row: dict[str, object]) -> dict[str, object]:
    """The columns of a template row that its versions keep (not ``reply_to``, which is not versioned)."""
    return {k: v for k, v in template_row.items() if k in template_versions.c}
