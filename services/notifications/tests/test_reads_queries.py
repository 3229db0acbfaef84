"""The internal list queries behind the public v2 reads, against a real PostgreSQL database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from notify_notifications.adapters.tables import inbound_sms, metadata, notifications, templates, users
from notify_notifications.entrypoints.internal_reads import (
    list_inbound_sms,
    list_notifications,
    list_templates,
)
from notify_platform.db import Database
from notify_tools.testing import Infra, scratch_database
from sqlalchemy import text

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)
SERVICE = uuid.uuid4()
OTHER = uuid.uuid4()


@pytest.fixture(scope="module")
def db(infra: Infra) -> Iterator[Database]:
    with scratch_database(infra, metadata, "reads") as database:
        yield database


@pytest.fixture(autouse=True)
def clean(db: Database) -> None:
    with db.engine.begin() as conn:
        conn.execute(text("TRUNCATE notifications, inbound_sms, templates, users CASCADE"))


def _n(i: int, **overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": uuid.UUID(int=i + 1),
        "service_id": SERVICE,
        "template_id": uuid.UUID(int=999),
        "template_version": 1,
        "notification_type": "sms",
        "key_type": "normal",
        "recipient": "07700900000",
        "normalised_recipient": "447700900000",
        "status": "delivered",
        "body": "hi",
        "created_at": NOW - timedelta(minutes=i),
    }
    return {**row, **overrides}


def _insert(db: Database, table: Any, rows: list[dict[str, Any]]) -> None:
    with db.engine.begin() as conn:
        for row in rows:  # one by one: an executemany would take its columns from the first row only
            conn.execute(table.insert().values(**row))


def _ids(page: list[dict[str, Any]]) -> list[int]:
    return [uuid.UUID(n["id"]).int - 1 for n in page]


def _list(db: Database, **kwargs: Any) -> list[dict[str, Any]]:
    with db.engine.connect() as conn:
        return list_notifications(conn, SERVICE, kwargs.pop("key_type", "normal"), **kwargs)


def test_only_the_key_type_and_service_newest_first_within_retention(db: Database) -> None:
    _insert(
        db,
        notifications,
        [
            _n(0),
            _n(1, key_type="test"),
            _n(2, service_id=OTHER),
            _n(3),
            _n(4, created_at=NOW - timedelta(days=8)),
        ],
    )
    assert _ids(_list(db)) == [0, 3]
    assert _ids(_list(db, key_type="test")) == [1]


def test_filters(db: Database) -> None:
    _insert(
        db,
        notifications,
        [
            _n(0, notification_type="email", status="sending"),
            _n(1, status="permanent-failure", client_reference="ref"),
            _n(2, notification_type="letter", status="created", job_id=uuid.uuid4()),
            _n(3, client_reference="ref"),
        ],
    )
    assert _ids(_list(db, template_types=["email", "letter"])) == [0]
    assert _ids(_list(db, template_types=["email", "letter"], include_jobs=True)) == [0, 2]
    assert _ids(_list(db, statuses=["permanent-failure", "sending"])) == [0, 1]
    assert _ids(_list(db, reference="ref")) == [1, 3]
    assert _ids(_list(db, reference="ref", statuses=["delivered"])) == [3]


def test_keyset_pages_lose_nothing_even_when_created_at_ties(db: Database) -> None:
    same = NOW - timedelta(hours=1)
    _insert(
        db,
        notifications,
        [_n(i, created_at=same if 3 <= i <= 7 else NOW - timedelta(minutes=i)) for i in range(12)],
    )
    seen: list[int] = []
    older_than = None
    while True:
        page = _list(db, limit=4, older_than=older_than)
        if not page:
            break
        seen += _ids(page)
        older_than = uuid.UUID(page[-1]["id"])
    assert sorted(seen) == list(range(12))
    assert len(seen) == 12


def test_unknown_other_service_or_expired_older_than_gives_an_empty_page(db: Database) -> None:
    _insert(db, notifications, [_n(0), _n(1, service_id=OTHER), _n(2, created_at=NOW - timedelta(days=9))])
    assert _list(db, older_than=uuid.uuid4()) == []
    assert _list(db, older_than=uuid.UUID(int=2)) == []
    assert _list(db, older_than=uuid.UUID(int=3)) == []
    assert _list(db, older_than=uuid.UUID(int=1)) == []  # nothing older than the oldest


def test_older_than_from_another_key_type_of_the_service_still_anchors(db: Database) -> None:
    _insert(db, notifications, [_n(0), _n(1, key_type="test"), _n(2)])
    assert _ids(_list(db, older_than=uuid.UUID(int=2))) == [2]


def test_the_query_uses_the_service_key_created_index(db: Database) -> None:
    _insert(db, notifications, [_n(i) for i in range(50)])
    with db.engine.begin() as conn:
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(
            r[0]
            for r in conn.execute(
                text(
                    "EXPLAIN SELECT * FROM notifications WHERE service_id = :s AND key_type = 'normal' "
                    "AND created_at >= :c ORDER BY created_at DESC, id DESC LIMIT 250"
                ),
                {"s": SERVICE, "c": NOW - timedelta(days=7)},
            )
        )
    assert "ix_notifications_service_key_created" in plan


def test_templates_latest_visible_by_name_then_type_with_creator_email(db: Database) -> None:
    user = uuid.uuid4()
    _insert(
        db, users, [{"id": user, "name": "U", "email_address": "maker@example.gov.uk", "password_hash": "x"}]
    )

    def t(name: str, kind: str, **overrides: Any) -> dict[str, Any]:
        return {
            "id": uuid.uuid4(),
            "service_id": SERVICE,
            "name": name,
            "template_type": kind,
            "content": "c",
            "archived": False,
            "hidden": False,
            "has_unsubscribe_link": False,
            "created_by_id": user,
            "created_at": NOW,
            "version": 1,
            **overrides,
        }

    with db.engine.begin() as conn:
        conn.execute(text("ALTER TABLE templates DROP CONSTRAINT IF EXISTS templates_service_id_fkey"))
    _insert(
        db,
        templates,
        [
            t("b", "sms"),
            t("a", "letter"),
            t("a", "email"),
            t("c", "sms", archived=True),
            t("d", "letter", hidden=True),
            t("e", "sms", service_id=OTHER),
        ],
    )
    with db.engine.connect() as conn:
        everything = list_templates(conn, SERVICE, None)
        sms = list_templates(conn, SERVICE, "sms")
    assert [(x["name"], x["template_type"]) for x in everything] == [
        ("a", "email"),
        ("a", "letter"),
        ("b", "sms"),
    ]
    assert {x["created_by"] for x in everything} == {"maker@example.gov.uk"}
    assert [x["name"] for x in sms] == ["b"]


def test_inbound_sms_pages_newest_first(db: Database) -> None:
    rows = [
        {
            "id": uuid.UUID(int=i + 1),
            "service_id": SERVICE if i != 2 else OTHER,
            "notify_number": "07700900456",
            "user_number": "447700900123",
            "content": f"m{i}",
            "created_at": NOW - timedelta(minutes=i) if i != 4 else NOW - timedelta(days=8),
        }
        for i in range(6)
    ]
    _insert(db, inbound_sms, rows)
    with db.engine.connect() as conn:
        first = list_inbound_sms(conn, SERVICE, limit=2)
        second = list_inbound_sms(conn, SERVICE, limit=2, older_than=uuid.UUID(first[-1]["id"]))
        third = list_inbound_sms(conn, SERVICE, limit=2, older_than=uuid.UUID(second[-1]["id"]))
        unknown = list_inbound_sms(conn, SERVICE, older_than=uuid.uuid4())
    assert [m["content"] for m in first + second + third] == ["m0", "m1", "m3", "m5"]
    assert first[0] == {
        "id": str(uuid.UUID(int=1)),
        "service_id": str(SERVICE),
        "notify_number": "07700900456",
        "user_number": "447700900123",
        "content": "m0",
        "created_at": first[0]["created_at"],
    }
    assert first[0]["created_at"].endswith("Z")
    assert unknown == []
