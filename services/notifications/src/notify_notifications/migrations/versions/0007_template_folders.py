"""template folders, and which folder each template is in

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 18:10:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "template_folders",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("service_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("parent_id", sa.UUID(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["parent_id"], ["template_folders.id"]),
        sa.ForeignKeyConstraint(["service_id"], ["services.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_template_folders_service_id"), "template_folders", ["service_id"], unique=False)
    op.create_table(
        "template_folder_map",
        sa.Column("template_id", sa.UUID(), nullable=False),
        sa.Column("folder_id", sa.UUID(), nullable=False),
        sa.ForeignKeyConstraint(["folder_id"], ["template_folders.id"]),
        sa.ForeignKeyConstraint(["template_id"], ["templates.id"]),
        sa.PrimaryKeyConstraint("template_id"),
    )
    op.create_index(
        op.f("ix_template_folder_map_folder_id"), "template_folder_map", ["folder_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_template_folder_map_folder_id"), table_name="template_folder_map")
    op.drop_table("template_folder_map")
    op.drop_index(op.f("ix_template_folders_service_id"), table_name="template_folders")
    op.drop_table("template_folders")
