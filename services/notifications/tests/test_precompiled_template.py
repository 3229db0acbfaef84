"""The hidden template precompiled letters are recorded against: made once per service, never visible."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from notify_notifications.adapters.tables import metadata, services, templates, users
from notify_notifications.entrypoints.internal import precompiled_template
from notify_platform.db import Database
from notify_tools.testing import Infra, scratch_database
from sqlalchemy import func, select

pytestmark = pytest.mark.integration


@pytest.fixture
def db(infra: Infra) -> Iterator[Database]:
    with scratch_database(infra, metadata, "precompiled") as database:
        yield database


def test_made_once_per_service_even_when_first_used_concurrently(db: Database) -> None:
    user_id, sid = uuid.uuid4(), uuid.uuid4()
    with db.unit_of_work() as conn:
        conn.execute(
            users.insert().values(id=user_id, name="U", email_address="u@example.gov.uk", password_hash="x")
        )
        conn.execute(
            services.insert().values(
                id=sid, name="S", email_sender_local_part="s", permissions=["letter"], created_by_id=user_id
            )
        )

    def fetch() -> dict | None:
        with db.unit_of_work() as conn:
            return precompiled_template(conn, sid)

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: fetch(), range(4)))
    assert len({r["id"] for r in results}) == 1
    assert results[0]["hidden"] is True and results[0]["template_type"] == "letter"
    assert results[0]["version"] == 1
    with db.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(templates)).scalar_one() == 1
    with db.unit_of_work() as conn:
        assert precompiled_template(conn, uuid.uuid4()) is None
