"""callbacks to send (with their attempts), complaints, returned letters, and the pool of inbound numbers

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-22 20:30:00.000000
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "callback_deliveries",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("service_id", sa.UUID(), nullable=False),
        sa.Column("callback_type", sa.String(length=30), nullable=False),
        sa.Column("dedupe_key", sa.String(length=120), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "next_attempt_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dedupe_key"),
    )
    op.create_index(
        "ix_callback_deliveries_due",
        "callback_deliveries",
        ["next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("state = 'pending'"),
    )
    op.create_index(
        "ix_callback_deliveries_service_state", "callback_deliveries", ["service_id", "state"], unique=False
    )
    op.create_table(
        "complaints",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("notification_id", sa.UUID(), nullable=False),
        sa.Column("service_id", sa.UUID(), nullable=False),
        sa.Column("complaint_date", sa.DateTime(timezone=True), nullable=False),
        sa.Column("provider_reference", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_complaints_service_created", "complaints", ["service_id", "created_at"], unique=False)
    op.create_table(
        "returned_letters",
        sa.Column("notification_id", sa.UUID(), nullable=False),
        sa.Column("service_id", sa.UUID(), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("notification_id"),
    )
    op.create_index(
        "ix_returned_letters_service_reported",
        "returned_letters",
        ["service_id", "reported_at"],
        unique=False,
    )
    op.create_table(
        "inbound_numbers",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("number", sa.String(length=255), nullable=False),
        sa.Column("provider", sa.String(length=50), nullable=False),
        sa.Column("service_id", sa.UUID(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["service_id"], ["services.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("number"),
        sa.UniqueConstraint("service_id"),
    )
    op.add_column("service_sms_senders", sa.Column("inbound_number_id", sa.UUID(), nullable=True))
    op.create_foreign_key(
        "service_sms_senders_inbound_number_id_fkey",
        "service_sms_senders",
        "inbound_numbers",
        ["inbound_number_id"],
        ["id"],
    )


def downgrade() -> None:
    op.drop_constraint(
        "service_sms_senders_inbound_number_id_fkey", "service_sms_senders", type_="foreignkey"
    )
    op.drop_column("service_sms_senders", "inbound_number_id")
    op.drop_table("inbound_numbers")
    op.drop_index("ix_returned_letters_service_reported", table_name="returned_letters")
    op.drop_table("returned_letters")
    op.drop_index("ix_complaints_service_created", table_name="complaints")
    op.drop_table("complaints")
    op.drop_index("ix_callback_deliveries_service_state", table_name="callback_deliveries")
    op.drop_index("ix_callback_deliveries_due", table_name="callback_deliveries")
    op.drop_table("callback_deliveries")
