"""user attributes the admin app updates, and one-time verify codes

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 18:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("current_session_id", sa.UUID(), nullable=True))
    op.add_column("users", sa.Column("email_access_validated_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "users", sa.Column("take_part_in_research", sa.Boolean(), server_default="true", nullable=False)
    )
    op.add_column(
        "users", sa.Column("receives_new_features_email", sa.Boolean(), server_default="true", nullable=False)
    )
    op.create_table(
        "verify_codes",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("code_type", sa.String(length=10), nullable=False),
        sa.Column("expiry_datetime", sa.DateTime(timezone=True), nullable=False),
        sa.Column("code_used", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_verify_codes_user_id"), "verify_codes", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_verify_codes_user_id"), table_name="verify_codes")
    op.drop_table("verify_codes")
    for column in ("receives_new_features_email", "take_part_in_research", "email_access_validated_at"):
        op.drop_column("users", column)
    op.drop_column("users", "current_session_id")
