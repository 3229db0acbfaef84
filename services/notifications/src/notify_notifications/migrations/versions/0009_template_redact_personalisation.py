"""a template whose personalisation the admin hides

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22 18:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "templates", sa.Column("redact_personalisation", sa.Boolean(), server_default="false", nullable=False)
    )


def downgrade() -> None:
    op.drop_column("templates", "redact_personalisation")
