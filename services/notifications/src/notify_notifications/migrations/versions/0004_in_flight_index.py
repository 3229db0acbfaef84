"""index the notifications still in flight, for the stuck-notification sweep

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 16:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_notifications_in_flight_created",
        "notifications",
        ["created_at"],
        unique=False,
        postgresql_where=sa.text("status IN ('sending', 'pending')"),
    )


def downgrade() -> None:
    op.drop_index("ix_notifications_in_flight_created", table_name="notifications")
