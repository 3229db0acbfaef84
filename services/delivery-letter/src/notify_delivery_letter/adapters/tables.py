"""delivery-letter's own database: the send ledger, the PDFs, the letters waiting for (or gone to) print, the print
batches, the daily print runs, and the outbox."""

from notify_platform.outbox import outbox_table
from notify_platform.send_ledger import ledger_table
from sqlalchemy import (
    DDL,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    event,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import UUID

metadata = MetaData()
outbox = outbox_table(metadata)

# One row per letter request, ever: "claimed" (being prepared), "sent" (prepared: queued for print, or a test-key
# letter reported delivered) or "failed" (validation-failed, virus-scan-failed, technical-failure). Redelivered
# requests find their row and do nothing.
sends = ledger_table(metadata, "letter_sends", with_provider=False)

# The PDF of every letter: uploaded by the gateway for precompiled letters (PUT /internal/letters/{id}/pdf),
# rendered here for templated ones. A precompiled PDF that failed the virus scan is kept but quarantined (never
# served, never printed).
pdfs = Table(
    "letter_pdfs",
    metadata,
    Column("notification_id", UUID(as_uuid=True), primary_key=True),
    Column("service_id", UUID(as_uuid=True), nullable=False),
    Column("pdf", LargeBinary, nullable=False),
    Column("size", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("precompiled", Boolean, nullable=False),
    Column("quarantined", Boolean, nullable=False, server_default=text("false")),
    Column("stored_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
# PDFs are compressed already: never compressed again (STORAGE EXTERNAL, migration 0002), and kept in their row up
# to about 8 kB (toast_tuple_target, migration 0003) rather than in the TOAST table. The same for tables made from
# this metadata directly (tests' scratch databases).
event.listen(
    pdfs,
    "after_create",
    DDL("ALTER TABLE letter_pdfs ALTER COLUMN pdf SET STORAGE EXTERNAL, SET (toast_tuple_target = 8160)"),
)

# state: "pending" (to upload; retried until sent or failed), "sent", "failed", or "empty" (every letter in it was
# cancelled before the upload). The batch id is the upload's idempotency key.
batches = Table(
    "print_batches",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("state", String(20), nullable=False),
    Column("letter_count", Integer, nullable=False),
    Column("cutoff", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("leased_until", DateTime(timezone=True), nullable=True),
    Column("provider_reference", String(255), nullable=True),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    Column("last_error", String(500), nullable=True),
    Index("ix_print_batches_due", "state", "next_attempt_at"),
)

# A letter's way through print. state: "ready" (waiting for a batch), "batched" (in a batch not sent yet),
# "sent" (with the printer: sending), "despatched" (delivered), "rejected" (technical-failure), "returned"
# (returned-letter), "failed" (the upload failed for good), "cancelled", or "research" (test key: never printed).
# A cancellation that arrives before the letter request leaves a "cancelled" row with only the ids filled in.
letters = Table(
    "letters",
    metadata,
    Column("notification_id", UUID(as_uuid=True), primary_key=True),
    Column("service_id", UUID(as_uuid=True), nullable=False),
    Column("state", String(20), nullable=False),
    Column("correlation_id", String(100), nullable=True),
    Column(
        "created_at", DateTime(timezone=True), nullable=True
    ),  # the notification's; the cut-off applies to it
    Column("postage", String(20), nullable=True),
    Column("page_count", Integer, nullable=True),
    Column("sheets", Integer, nullable=True),
    Column("pdf_size", Integer, nullable=True),
    Column("batch_id", UUID(as_uuid=True), ForeignKey("print_batches.id"), nullable=True, index=True),
    Column("provider_reference", String(255), nullable=True),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_letters_state_created_at", "state", "created_at"),
    # Returned letters are reported by the printer's reference (migration 0004).
    Index("ix_letters_provider_reference", "provider_reference"),
)

# Daily schedule: one row per print day whose batch has been collected, so replicas collect it once.
print_runs = Table(
    "print_runs",
    metadata,
    Column("print_day", Date, primary_key=True),
    Column("ran_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("batches", Integer, nullable=False),
)
