"""public reads: inbound_sms table, notifications reference index

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 14:40:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbound_sms",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("service_id", sa.UUID(), nullable=False),
        sa.Column("notify_number", sa.String(length=50), nullable=False),
        sa.Column("user_number", sa.String(length=50), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("provider_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("provider_reference", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_inbound_sms_service_created", "inbound_sms", ["service_id", "created_at"], unique=False
    )
    op.create_index(
        "ix_notifications_service_reference",
        "notifications",
        ["service_id", "client_reference"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_notifications_service_reference", table_name="notifications")
    op.drop_index("ix_inbound_sms_service_created", table_name="inbound_sms")
    op.drop_table("inbound_sms")
