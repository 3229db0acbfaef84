"""The jobs database: uploads and their rows, contact lists, jobs, each job's notifications' statuses, the outbox."""

from notify_platform.outbox import outbox_table
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

metadata = MetaData()
outbox = outbox_table(metadata)

# A checked file. Its rows are kept as normalised CSV (whatever the uploaded format) in ``upload_chunks`` under
# ``data_id``: the upload's own id, or the upload of the contact list it was made from.
uploads = Table(
    "uploads",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("service_id", UUID(as_uuid=True), nullable=False, index=True),
    Column("kind", String(20), nullable=False),  # job | contact_list
    Column("data_id", UUID(as_uuid=True), nullable=False),
    Column("template_id", UUID(as_uuid=True), nullable=True),
    Column("template_version", Integer, nullable=True),
    Column("template_type", String(10), nullable=False),
    Column("original_file_name", String(255), nullable=False),
    Column("notification_count", Integer, nullable=False),
    Column("valid", Boolean, nullable=False),
    Column("error_count", Integer, nullable=False, server_default=text("0")),
    Column("errors", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("size_bytes", BigInteger, nullable=False, server_default=text("0")),
    Column("contact_list_id", UUID(as_uuid=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

upload_chunks = Table(
    "upload_chunks",
    metadata,
    Column("data_id", UUID(as_uuid=True), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("data", LargeBinary, nullable=False),
)

contact_lists = Table(
    "contact_lists",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("service_id", UUID(as_uuid=True), nullable=False, index=True),
    Column("upload_id", UUID(as_uuid=True), ForeignKey("uploads.id"), nullable=False),
    Column("original_file_name", String(255), nullable=False),
    Column("row_count", Integer, nullable=False),
    Column("template_type", String(10), nullable=False),
    Column("created_by_id", UUID(as_uuid=True), nullable=False),
    Column("created_by_name", String(255), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("archived", Boolean, nullable=False, server_default=text("false")),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),  # the upload's id, as Notify uses the file's id
    Column("service_id", UUID(as_uuid=True), nullable=False, index=True),
    Column("service_name", String(255), nullable=False, server_default=""),
    Column("template_id", UUID(as_uuid=True), nullable=False),
    Column("template_version", Integer, nullable=False),
    Column("template_type", String(10), nullable=False, server_default="sms"),
    Column("template_name", String(255), nullable=False, server_default=""),
    Column("original_file_name", String(255), nullable=False),
    Column("notification_count", Integer, nullable=False),
    Column("job_status", String(40), nullable=False),
    Column("created_by_id", UUID(as_uuid=True), nullable=False),
    Column("created_by_name", String(255), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=True),
    Column("scheduled_for", DateTime(timezone=True), nullable=True),
    Column("processing_started", DateTime(timezone=True), nullable=True),
    Column("processing_finished", DateTime(timezone=True), nullable=True),
    Column("contact_list_id", UUID(as_uuid=True), nullable=True),
    Column("archived", Boolean, nullable=False, server_default=text("false")),
    Column("sender_id", UUID(as_uuid=True), nullable=True),
    # Processing: data rows read so far (sent or skipped) and notifications announced; a worker holds a lease
    # while it emits, so a job whose worker died is taken over where the last committed batch ended.
    Column("rows_processed", Integer, nullable=False, server_default=text("0")),
    Column("notifications_sent", Integer, nullable=False, server_default=text("0")),
    Column("lease_owner", String(100), nullable=True),
    Column("lease_until", DateTime(timezone=True), nullable=True),
    Index("ix_jobs_due", "job_status", "scheduled_for"),
)

# The latest status of each of a job's notifications, from ``notification.status_changed`` events.
job_notifications = Table(
    "job_notifications",
    metadata,
    Column("notification_id", UUID(as_uuid=True), primary_key=True),
    Column("job_id", UUID(as_uuid=True), nullable=False),
    Column("status", String(30), nullable=False),
    Column("status_at", DateTime(timezone=True), nullable=False),
    Index("ix_job_notifications_job_status", "job_id", "status"),
)
