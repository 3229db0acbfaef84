"""a job's notifications in row order: index (job_id, job_row_number) instead of job_id alone

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-22 09:30:00.000000
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_notifications_job_row", "notifications", ["job_id", "job_row_number"], unique=False)
    op.drop_index("ix_notifications_job_id", table_name="notifications")


def downgrade() -> None:
    op.create_index("ix_notifications_job_id", "notifications", ["job_id"], unique=False)
    op.drop_index("ix_notifications_job_row", table_name="notifications")
