"""The Alembic revisions create exactly the tables the code declares (a forgotten migration fails here), and store
letter PDFs as the code expects: never compressed again, kept in their row up to about 8 kB."""

import secrets

import pytest
from alembic import command
from notify_delivery_letter.adapters.tables import metadata
from notify_delivery_letter.bootstrap import MIGRATIONS
from notify_platform.db import drop_database
from notify_platform.migrations import alembic_config, upgrade
from notify_tools.testing import Infra, migration_drift, scratch_database
from sqlalchemy import create_engine, text

pytestmark = pytest.mark.integration

PDF_STORAGE = text(
    "SELECT a.attstorage, coalesce(c.reloptions, '{}') FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
    "WHERE c.relname = 'letter_pdfs' AND a.attname = 'pdf'"
)


def test_migrations_match_the_models(infra: Infra) -> None:
    assert migration_drift(MIGRATIONS, metadata, infra, "notify_delivery_letter") == []


def _pdf_storage(url: str) -> tuple[str, list[str]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            storage, options = conn.execute(PDF_STORAGE).one()
            return storage, list(options)
    finally:
        engine.dispose()


def test_pdfs_are_stored_uncompressed_and_in_their_row_when_small(infra: Infra) -> None:
    url = infra.database_url(f"storage_letter_{secrets.token_hex(3)}")
    try:
        upgrade(MIGRATIONS, url)
        assert _pdf_storage(url) == ("e", ["toast_tuple_target=8160"])
        command.downgrade(alembic_config(MIGRATIONS, url), "0002")
        assert _pdf_storage(url) == ("e", [])
    finally:
        drop_database(url)
    # Tables made from the models directly (the tests' scratch databases) are stored the same way.
    with scratch_database(infra, metadata, "storage_letter") as db:
        assert _pdf_storage(db.url) == ("e", ["toast_tuple_target=8160"])
