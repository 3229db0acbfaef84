"""letter_pdfs: a PDF of up to about 8 kB stays in its row (toast_tuple_target)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 10:00:00.000000

PDFs are compressed already, so 0002 stored them ``STORAGE EXTERNAL`` (never compressed again). But a row over
2 kB (the default ``toast_tuple_target``) still had its PDF moved to the TOAST table: one more heap row and index
entry to write for every letter, and an index lookup to read it back when its batch is uploaded. Most letter PDFs
are a few kilobytes, so they now stay in the row; larger ones still go out of line, uncompressed.
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE letter_pdfs SET (toast_tuple_target = 8160)")


def downgrade() -> None:
    op.execute("ALTER TABLE letter_pdfs RESET (toast_tuple_target)")
