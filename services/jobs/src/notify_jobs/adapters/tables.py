"""The jobs database: jobs and their outbox (uploads, contact lists and schedules follow in the jobs issue)."""

from notify_platform.outbox import outbox_table
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, func
from sqlalchemy.dialects.postgresql import UUID

metadata = MetaData()
outbox = outbox_table(metadata)

jobs = Table(
    "jobs",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("service_id", UUID(as_uuid=True), nullable=False, index=True),
    Column("template_id", UUID(as_uuid=True), nullable=False),
    Column("template_version", Integer, nullable=False),
    Column("original_file_name", String(255), nullable=False),
    Column("notification_count", Integer, nullable=False),
    Column("job_status", String(30), nullable=False),
    Column("created_by_id", UUID(as_uuid=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("scheduled_for", DateTime(timezone=True), nullable=True),
    Column("processing_started", DateTime(timezone=True), nullable=True),
    Column("processing_finished", DateTime(timezone=True), nullable=True),
)
