"""a letter template's chosen contact block

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 18:20:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("templates", sa.Column("reply_to", sa.UUID(), nullable=True))


def downgrade() -> None:
    op.drop_column("templates", "reply_to")
