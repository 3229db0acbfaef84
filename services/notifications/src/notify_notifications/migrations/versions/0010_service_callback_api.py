"""where each service wants its callbacks

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-22 18:40:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "service_callback_api",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("service_id", sa.UUID(), nullable=False),
        sa.Column("callback_type", sa.String(length=30), nullable=False),
        sa.Column("url", sa.String(length=255), nullable=False),
        sa.Column("bearer_token_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column("updated_by_id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["service_id"], ["services.id"]),
        sa.ForeignKeyConstraint(["updated_by_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("service_id", "callback_type"),
    )


def downgrade() -> None:
    op.drop_table("service_callback_api")
