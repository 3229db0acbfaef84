"""delivery-sms's own database: the send ledger (one row per notification, ever), its outbox, and the provider
priorities with what moves them."""

from notify_platform.outbox import outbox_table
from notify_platform.send_ledger import ledger_table
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import UUID

metadata = MetaData()
outbox = outbox_table(metadata)

# state: "claimed" (committed before the provider is called), "sent", or "failed".
# A "claimed" row found on redelivery means a crash between the provider call and the record: the provider is
# asked whether it already has the message before anything is sent again.
sends = ledger_table(metadata, "sms_sends", with_provider=True)
# The slow-delivery check reads the texts claimed in its last window.
Index("ix_sms_sends_claimed_at", sends.c.claimed_at)

# The first final receipt of each text: how long its delivery took (received_at - sms_sends.sent_at).
receipts = Table(
    "sms_receipts",
    metadata,
    Column("notification_id", UUID(as_uuid=True), primary_key=True),
    Column("status", String(30), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# One row per provider: the weight it gets when a text is sent. updated_at drives the "not if changed recently"
# guards, so it changes only when the priority (or the active flag) does.
provider_priorities = Table(
    "sms_provider_priorities",
    metadata,
    Column("name", String(30), primary_key=True),
    Column("priority", Integer, nullable=False),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    Column("updated_at", DateTime(timezone=True), nullable=True),
    CheckConstraint("priority BETWEEN 0 AND 100", name="ck_sms_provider_priorities_priority_range"),
)

# Every change of a priority, with why ("initial", "errors", "slow", "drift", "manual").
priority_history = Table(
    "sms_provider_priority_history",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("provider", String(30), nullable=False),
    Column("previous_priority", Integer, nullable=True),
    Column("priority", Integer, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("reason", String(20), nullable=False),
    Column("detail", String(200), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_sms_provider_priority_history_created_at", "created_at"),
)

# Failed sends per provider and second, summed over the error window by every replica alike.
provider_errors = Table(
    "sms_provider_errors",
    metadata,
    Column("provider", String(30), primary_key=True),
    Column("second", DateTime(timezone=True), primary_key=True),
    Column("count", Integer, nullable=False),
)
