"""Alembic, driven from code: each service keeps its revisions in ``<package>/migrations``.

``upgrade`` creates the database if it is missing and runs every revision; it is the ``migrate`` role that
runs once per deploy (a Kubernetes Job, the compose one-shot, ``make migrate``), never on every replica start.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData

from .db import ensure_database
from .logging import get_logger

log = get_logger(__name__)


def alembic_config(script_location: Path, url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(script_location: Path, url: str) -> None:
    created = ensure_database(url)
    command.upgrade(alembic_config(script_location, url), "head")
    log.info("migrate.done", created_database=created, location=script_location.parent.name)


def run_env(metadata: MetaData) -> None:
    """Body of every service's ``migrations/env.py``: online migrations against the configured URL."""
    from alembic import context
    from sqlalchemy import create_engine, pool

    config = context.config
    engine = create_engine(config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
