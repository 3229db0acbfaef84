"""Letter delivery dates (behaviour.md §8) and ``estimated_delivery`` in the v2 notification body (§6.1).

Every expected date below was worked out by hand from the calendar: print day = next printer working day after
the London processing day; delivery = 1 + max transit Royal Mail working days later, 16:00 London time.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from notify_gateway.auth import ApiKeyRecord
from notify_gateway.domain.letter_dates import (
    delivery_window,
    estimated_delivery,
    is_bank_holiday,
    latest_delivery,
    print_day,
)
from notify_gateway.domain.presenters import notification_body
from notify_gateway.entrypoints import errors, v2_notifications
from notify_gateway.entrypoints.deps import Caller, authenticated
from notify_gateway.settings import Settings


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# (created at, UTC; postage; expected estimated_delivery)
CASES = [
    # --- the 17:30 London cut-off (BST in May: 17:30 London = 16:30 UTC) ---
    pytest.param("2024-05-13 10:00", "second", "2024-05-21T15:00:00.000000Z", id="mon-morning-second"),
    pytest.param(
        "2024-05-13 16:29:59.999999", "second", "2024-05-21T15:00:00.000000Z", id="mon-just-before-17:30"
    ),
    pytest.param("2024-05-13 16:30", "second", "2024-05-22T15:00:00.000000Z", id="mon-at-17:30-is-next-day"),
    pytest.param(
        "2024-05-13 16:45", "second", "2024-05-22T15:00:00.000000Z", id="after-cutoff-in-london-not-utc"
    ),
    pytest.param("2024-05-13 23:30", "second", "2024-05-22T15:00:00.000000Z", id="tuesday-already-in-london"),
    # --- GMT in January: 17:30 London = 17:30 UTC; 16:00 London = 16:00 UTC ---
    pytest.param("2024-01-15 17:29", "second", "2024-01-23T16:00:00.000000Z", id="winter-before-cutoff"),
    pytest.param("2024-01-15 17:30", "second", "2024-01-24T16:00:00.000000Z", id="winter-at-cutoff"),
    # --- every postage, created Monday 13 May 2024 11:00 BST (printed Tuesday 14th) ---
    pytest.param("2024-05-13 10:00", "first", "2024-05-15T15:00:00.000000Z", id="first"),
    pytest.param("2024-05-13 10:00", "economy", "2024-05-23T15:00:00.000000Z", id="economy"),
    pytest.param("2024-05-13 10:00", "europe", "2024-05-22T15:00:00.000000Z", id="europe"),
    pytest.param("2024-05-13 10:00", "rest-of-world", "2024-05-24T15:00:00.000000Z", id="rest-of-world"),
    # --- first class is delivered on Saturdays; other postage is not ---
    pytest.param(
        "2024-05-16 10:00", "first", "2024-05-18T15:00:00.000000Z", id="first-printed-fri-sat-delivery"
    ),
    pytest.param("2024-05-16 17:00", "first", "2024-05-21T15:00:00.000000Z", id="first-thu-after-cutoff"),
    pytest.param("2024-05-17 10:00", "first", "2024-05-21T15:00:00.000000Z", id="first-friday"),
    pytest.param("2024-05-17 17:00", "first", "2024-05-21T15:00:00.000000Z", id="first-friday-after-cutoff"),
    # --- Friday and weekend: printed Monday 20th; Monday 27 May 2024 is the spring bank holiday ---
    pytest.param(
        "2024-05-17 10:00", "second", "2024-05-28T15:00:00.000000Z", id="friday-second-over-bank-holiday"
    ),
    pytest.param("2024-05-18 10:00", "second", "2024-05-28T15:00:00.000000Z", id="saturday-second"),
    pytest.param(
        "2024-05-19 22:00", "second", "2024-05-29T15:00:00.000000Z", id="sunday-after-cutoff-print-tue"
    ),
    # --- Easter 2024 (Good Friday 29 Mar, Easter Monday 1 Apr; clocks change 31 Mar): printed Tuesday 2 Apr ---
    pytest.param("2024-03-28 10:00", "second", "2024-04-09T15:00:00.000000Z", id="easter-second-gmt-to-bst"),
    pytest.param("2024-03-28 10:00", "first", "2024-04-03T15:00:00.000000Z", id="easter-first"),
    pytest.param(
        "2024-03-28 10:00", "rest-of-world", "2024-04-12T15:00:00.000000Z", id="easter-rest-of-world"
    ),
    # --- Christmas 2026 (Fri 25, Sat 26 Boxing Day, Mon 28 substitute; Fri 1 Jan 2027): printed Tue 29 Dec ---
    pytest.param("2026-12-24 10:00", "first", "2026-12-30T16:00:00.000000Z", id="christmas-2026-first"),
    pytest.param("2026-12-24 10:00", "second", "2027-01-06T16:00:00.000000Z", id="christmas-2026-second"),
    pytest.param("2026-12-24 10:00", "europe", "2027-01-07T16:00:00.000000Z", id="christmas-2026-europe"),
    # --- Christmas 2021 on a weekend (substitutes Mon 27, Tue 28; 3 Jan 2022 for New Year): printed Fri 24 ---
    # Saturday 25 Dec is not itself a bank holiday (its substitute is), so first class arrives that Saturday.
    pytest.param(
        "2021-12-23 10:00", "first", "2021-12-25T16:00:00.000000Z", id="weekend-christmas-first-sat"
    ),
    pytest.param("2021-12-23 10:00", "second", "2022-01-05T16:00:00.000000Z", id="weekend-christmas-second"),
    pytest.param(
        "2021-12-23 10:00", "economy", "2022-01-07T16:00:00.000000Z", id="weekend-christmas-economy"
    ),
    # --- one-off bank holiday: the coronation, Monday 8 May 2023 ---
    pytest.param(
        "2023-05-05 10:00", "second", "2023-05-16T15:00:00.000000Z", id="coronation-printed-tuesday"
    ),
    pytest.param("2023-05-05 10:00", "first", "2023-05-10T15:00:00.000000Z", id="coronation-first"),
]


@pytest.mark.parametrize(("created", "postage", "expected"), CASES)
def test_estimated_delivery(created: str, postage: str, expected: str) -> None:
    assert estimated_delivery(utc(created), postage) == expected


@pytest.mark.parametrize(
    ("created", "printed"),
    [
        ("2024-05-13 10:00", date(2024, 5, 14)),  # Monday → Tuesday
        ("2024-05-13 16:30", date(2024, 5, 15)),  # Monday 17:30 BST → Wednesday
        ("2024-05-16 16:29", date(2024, 5, 17)),  # Thursday → Friday
        ("2024-05-16 16:30", date(2024, 5, 20)),  # Thursday after cut-off → Monday
        ("2024-05-24 10:00", date(2024, 5, 28)),  # Friday before the spring bank holiday → Tuesday
        ("2024-03-28 10:00", date(2024, 4, 2)),  # Thursday before Easter → Tuesday
        ("2022-06-01 10:00", date(2022, 6, 6)),  # Wed before the jubilee Thu 2 + Fri 3 Jun → Monday
        ("2022-09-16 10:00", date(2022, 9, 20)),  # Friday before the state funeral (Mon 19 Sep) → Tuesday
    ],
)
def test_print_day(created: str, printed: date) -> None:
    assert print_day(utc(created)) == printed


def test_delivery_window_earliest_and_latest() -> None:
    earliest, latest = delivery_window(utc("2024-05-13 10:00"), "second")
    assert earliest == utc("2024-05-20 15:00")  # 1 + 3 working days after Tuesday 14th
    assert latest == utc("2024-05-21 15:00")  # 1 + 4
    assert delivery_window(utc("2024-05-13 10:00"), "first") == (utc("2024-05-15 15:00"),) * 2
    earliest, latest = delivery_window(utc("2024-05-13 10:00"), "economy")
    assert (earliest, latest) == (utc("2024-05-20 15:00"), utc("2024-05-23 15:00"))


def test_created_at_forms() -> None:
    expected = "2024-05-21T15:00:00.000000Z"
    assert estimated_delivery("2024-05-13T10:00:00.000000Z", "second") == expected
    assert estimated_delivery("2024-05-13T11:00:00+01:00", "second") == expected
    assert estimated_delivery(datetime(2024, 5, 13, 10, 0), "second") == expected  # naive = UTC
    tokyo = timezone(timedelta(hours=9))
    assert estimated_delivery(datetime(2024, 5, 13, 19, 0, tzinfo=tokyo), "second") == expected
    assert latest_delivery("2024-05-13T10:00:00Z", "second").tzinfo == UTC


def test_seconds_and_microseconds_are_zero() -> None:
    assert estimated_delivery("2024-05-13T10:17:43.123456Z", "second") == "2024-05-21T15:00:00.000000Z"


def test_unknown_or_missing_postage() -> None:
    assert estimated_delivery(utc("2024-05-13 10:00"), None) is None
    assert estimated_delivery(utc("2024-05-13 10:00"), "carrier-pigeon") is None
    with pytest.raises(ValueError, match="unknown postage"):
        delivery_window(utc("2024-05-13 10:00"), "carrier-pigeon")


@pytest.mark.parametrize(
    ("day", "holiday"),
    [
        (date(2024, 5, 27), True),  # spring bank holiday
        (date(2023, 5, 8), True),  # coronation
        (date(2022, 9, 19), True),  # state funeral
        (date(2021, 12, 27), True),  # Christmas substitute day
        (date(2021, 12, 25), False),  # Saturday: replaced by its substitute
        (date(2024, 3, 17), False),  # St Patrick's Day is Northern Ireland only
        (date(2024, 12, 2), False),  # St Andrew's Day substitute: Scotland only
        (date(2024, 8, 5), False),  # Scottish summer bank holiday
        (date(2024, 8, 26), True),  # England & Wales summer bank holiday
    ],
)
def test_england_and_wales_bank_holidays(day: date, holiday: bool) -> None:
    assert is_bank_holiday(day) is holiday


# --------------------------------------------------------------------------------------------------
# the §6.1 body

SERVICE_ID = str(uuid.uuid4())
TEMPLATE_ID = str(uuid.uuid4())


def record(kind: str, **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "service_id": SERVICE_ID,
        "template_id": TEMPLATE_ID,
        "template_version": 1,
        "notification_type": kind,
        "recipient": {"sms": "07700900123", "email": "a@example.gov.uk", "letter": "A\nB\nSW1A 1AA"}[kind],
        "personalisation": {},
        "status": "created",
        "body": "Hello",
        "subject": None if kind == "sms" else "Hi",
        "postage": "second" if kind == "letter" else None,
        "created_at": "2024-05-13T10:00:00.000000Z",
    }
    return {**base, **overrides}


def test_letter_body_has_estimated_delivery_after_the_unsubscribe_url() -> None:
    body = notification_body(record("letter", postage="first"), "https://api.test/")
    assert body["estimated_delivery"] == "2024-05-15T15:00:00.000000Z"
    keys = list(body)
    assert keys.index("estimated_delivery") == keys.index("one_click_unsubscribe_url") + 1


def test_international_letter_uses_its_postage() -> None:
    body = notification_body(record("letter", postage="rest-of-world"), "https://api.test/")
    assert body["estimated_delivery"] == "2024-05-24T15:00:00.000000Z"


@pytest.mark.parametrize("kind", ["sms", "email"])
def test_sms_and_email_have_no_estimated_delivery(kind: str) -> None:
    assert "estimated_delivery" not in notification_body(record(kind), "https://api.test/")


class _Notifications:
    def __init__(self, found: dict[str, Any]) -> None:
        self.found = found

    async def notification(self, service_id: uuid.UUID, notification_id: uuid.UUID) -> Any:
        return self.found if str(notification_id) == self.found["id"] else None


class _Context:
    def __init__(self, found: dict[str, Any]) -> None:
        self.notifications = _Notifications(found)
        self.settings = Settings()
        self.redis = None


def test_get_one_letter_through_the_route() -> None:
    letter = record("letter", created_at="2024-05-17T10:00:00.000000Z", status="sending")
    app = FastAPI()
    app.include_router(v2_notifications.router)
    errors.install(app)
    app.state.context = _Context(letter)
    key = ApiKeyRecord(id=uuid.uuid4(), secret="s", key_type="normal", expiry_date=None)
    app.dependency_overrides[authenticated] = lambda: Caller(service={"id": SERVICE_ID}, key=key)
    r = TestClient(app, base_url="http://api.test").get(f"/v2/notifications/{letter['id']}")
    assert r.status_code == 200
    assert r.json()["status"] == "accepted"
    assert r.json()["estimated_delivery"] == "2024-05-28T15:00:00.000000Z"
