"""uploads and their rows, contact lists, job processing state, each job notification's latest status

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 09:45:00.000000
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "uploads",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("service_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("data_id", sa.UUID(), nullable=False),
        sa.Column("template_id", sa.UUID(), nullable=True),
        sa.Column("template_version", sa.Integer(), nullable=True),
        sa.Column("template_type", sa.String(length=10), nullable=False),
        sa.Column("original_file_name", sa.String(length=255), nullable=False),
        sa.Column("notification_count", sa.Integer(), nullable=False),
        sa.Column("valid", sa.Boolean(), nullable=False),
        sa.Column("error_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("errors", postgresql.JSONB(), server_default=sa.text("'[]'::jsonb"), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("contact_list_id", sa.UUID(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_uploads_service_id"), "uploads", ["service_id"], unique=False)
    op.create_table(
        "upload_chunks",
        sa.Column("data_id", sa.UUID(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("data_id", "seq"),
    )
    op.create_table(
        "contact_lists",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("service_id", sa.UUID(), nullable=False),
        sa.Column("upload_id", sa.UUID(), nullable=False),
        sa.Column("original_file_name", sa.String(length=255), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("template_type", sa.String(length=10), nullable=False),
        sa.Column("created_by_id", sa.UUID(), nullable=False),
        sa.Column("created_by_name", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("archived", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.ForeignKeyConstraint(["upload_id"], ["uploads.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_contact_lists_service_id"), "contact_lists", ["service_id"], unique=False)
    op.alter_column("jobs", "job_status", type_=sa.String(length=40), existing_nullable=False)
    for name, column in (
        ("service_name", sa.Column("service_name", sa.String(255), server_default="", nullable=False)),
        ("template_type", sa.Column("template_type", sa.String(10), server_default="sms", nullable=False)),
        ("template_name", sa.Column("template_name", sa.String(255), server_default="", nullable=False)),
        ("created_by_name", sa.Column("created_by_name", sa.String(255), nullable=True)),
        ("updated_at", sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True)),
        ("contact_list_id", sa.Column("contact_list_id", sa.UUID(), nullable=True)),
        ("archived", sa.Column("archived", sa.Boolean(), server_default=sa.text("false"), nullable=False)),
        ("sender_id", sa.Column("sender_id", sa.UUID(), nullable=True)),
        (
            "rows_processed",
            sa.Column("rows_processed", sa.Integer(), server_default=sa.text("0"), nullable=False),
        ),
        (
            "notifications_sent",
            sa.Column("notifications_sent", sa.Integer(), server_default=sa.text("0"), nullable=False),
        ),
        ("lease_owner", sa.Column("lease_owner", sa.String(100), nullable=True)),
        ("lease_until", sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True)),
    ):
        assert name == column.name
        op.add_column("jobs", column)
    op.create_index("ix_jobs_due", "jobs", ["job_status", "scheduled_for"], unique=False)
    op.create_table(
        "job_notifications",
        sa.Column("notification_id", sa.UUID(), nullable=False),
        sa.Column("job_id", sa.UUID(), nullable=False),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("status_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("notification_id"),
    )
    op.create_index(
        "ix_job_notifications_job_status", "job_notifications", ["job_id", "status"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_job_notifications_job_status", table_name="job_notifications")
    op.drop_table("job_notifications")
    op.drop_index("ix_jobs_due", table_name="jobs")
    for name in (
        "lease_until",
        "lease_owner",
        "notifications_sent",
        "rows_processed",
        "sender_id",
        "archived",
        "contact_list_id",
        "updated_at",
        "created_by_name",
        "template_name",
        "template_type",
        "service_name",
    ):
        op.drop_column("jobs", name)
    op.alter_column("jobs", "job_status", type_=sa.String(length=30), existing_nullable=False)
    op.drop_index(op.f("ix_contact_lists_service_id"), table_name="contact_lists")
    op.drop_table("contact_lists")
    op.drop_table("upload_chunks")
    op.drop_index(op.f("ix_uploads_service_id"), table_name="uploads")
    op.drop_table("uploads")
