"""letters: an index on provider_reference, the key the printer reports returned letters by

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 20:40:00.000000
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_letters_provider_reference", "letters", ["provider_reference"])


def downgrade() -> None:
    op.drop_index("ix_letters_provider_reference", table_name="letters")
