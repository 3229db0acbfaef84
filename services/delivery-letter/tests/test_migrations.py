"""The Alembic revisions create exactly the tables the code declares (a forgotten migration fails here)."""

import pytest
from notify_delivery_letter.adapters.tables import metadata
from notify_delivery_letter.bootstrap import MIGRATIONS
from notify_tools.testing import Infra, migration_drift

pytestmark = pytest.mark.integration


def test_migrations_match_the_models(infra: Infra) -> None:
    assert migration_drift(MIGRATIONS, metadata, infra, "notify_delivery_letter") == []
