"""delivery-letter's own database: the send ledger and its outbox."""

from notify_platform.outbox import outbox_table
from sqlalchemy import Column, DateTime, MetaData, String, Table, func
from sqlalchemy.dialects.postgresql import UUID

metadata = MetaData()
outbox = outbox_table(metadata)

sends = Table(
    "letter_sends",
    metadata,
    Column("notification_id", UUID(as_uuid=True), primary_key=True),
    Column("service_id", UUID(as_uuid=True), nullable=False),
    Column("state", String(10), nullable=False),
    Column("provider_reference", String(255), nullable=True, index=True),
    Column("claimed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("sent_at", DateTime(timezone=True), nullable=True),
)
