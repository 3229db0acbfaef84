"""service settings kept for the admin app, service history, email reply-to addresses and letter contact blocks

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 17:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

SERVICE_COLUMNS = (
    ("email_branding", sa.String(length=255)),
    ("letter_branding", sa.String(length=255)),
    ("billing_contact_email_addresses", sa.Text()),
    ("billing_contact_names", sa.Text()),
    ("billing_reference", sa.String(length=255)),
    ("go_live_at", sa.DateTime(timezone=True)),
    ("notes", sa.Text()),
    ("volume_email", sa.Integer()),
    ("volume_letter", sa.Integer()),
    ("volume_sms", sa.Integer()),
    ("free_sms_fragment_limit", sa.Integer()),
    ("archived_at", sa.DateTime(timezone=True)),
)


def _sender_table(name: str, value: sa.Column) -> None:  # type: ignore[type-arg]
    op.create_table(
        name,
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("service_id", sa.UUID(), nullable=False),
        value,
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("archived", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["service_id"], ["services.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f(f"ix_{name}_service_id"), name, ["service_id"], unique=False)


def upgrade() -> None:
    for name, typ in SERVICE_COLUMNS:
        op.add_column("services", sa.Column(name, typ, nullable=True))
    op.add_column(
        "services",
        sa.Column("confirmed_email_sender_name", sa.Boolean(), server_default="false", nullable=False),
    )
    op.add_column("service_sms_senders", sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "services_history",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("restricted", sa.Boolean(), nullable=False),
        sa.Column("email_message_limit", sa.BigInteger(), nullable=False),
        sa.Column("sms_message_limit", sa.BigInteger(), nullable=False),
        sa.Column("letter_message_limit", sa.BigInteger(), nullable=False),
        sa.Column("email_sender_local_part", sa.String(length=255), nullable=False),
        sa.Column("created_by_id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", "version"),
    )
    # Services made before history was kept start it with their current state.
    op.execute(
        "INSERT INTO services_history (id, version, name, active, restricted, email_message_limit, "
        "sms_message_limit, letter_message_limit, email_sender_local_part, created_by_id, created_at, updated_at) "
        "SELECT id, version, name, active, restricted, email_message_limit, sms_message_limit, "
        "letter_message_limit, email_sender_local_part, created_by_id, created_at, updated_at FROM services"
    )
    _sender_table("service_email_reply_to", sa.Column("email_address", sa.String(length=320), nullable=False))
    _sender_table("service_letter_contacts", sa.Column("contact_block", sa.Text(), nullable=False))


def downgrade() -> None:
    op.drop_index(op.f("ix_service_letter_contacts_service_id"), table_name="service_letter_contacts")
    op.drop_table("service_letter_contacts")
    op.drop_index(op.f("ix_service_email_reply_to_service_id"), table_name="service_email_reply_to")
    op.drop_table("service_email_reply_to")
    op.drop_table("services_history")
    op.drop_column("service_sms_senders", "updated_at")
    op.drop_column("services", "confirmed_email_sender_name")
    for name, _ in reversed(SERVICE_COLUMNS):
        op.drop_column("services", name)
