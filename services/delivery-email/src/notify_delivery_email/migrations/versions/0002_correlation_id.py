"""email_sends.correlation_id (receipts are published under the send's correlation id)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 15:05:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("email_sends", sa.Column("correlation_id", sa.String(length=100), nullable=True))


def downgrade() -> None:
    op.drop_column("email_sends", "correlation_id")
