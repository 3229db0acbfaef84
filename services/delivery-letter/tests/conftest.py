"""Fixtures of delivery-letter's tests: a scratch database with its tables, letter requests, PDFs and reports."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from notify_content.letters import render_letter_pdf
from notify_content.recipients import validate_address_lines
from notify_content.templates import RenderedLetter
from notify_contracts import LetterDeliveryRequestedV1, decode, new_envelope
from notify_delivery_letter.adapters.tables import letters, metadata, outbox
from notify_platform.db import Database
from notify_tools.testing import Infra, scratch_database
from sqlalchemy import select

ADDRESS = ["Ada Lovelace", "1 High Street", "SW1A 1AA"]


@pytest.fixture
def db(infra: Infra) -> Iterator[Database]:
    with scratch_database(infra, metadata, "letter") as database:
        yield database


def letter_request(
    *,
    key_type: str = "normal",
    address: list[str] | None = None,
    body: str = "Dear Ada,\n\nYour licence has been approved.",
    postage: str = "second",
    precompiled: bool = False,
    created_at: dt.datetime | None = None,
    service_id: uuid.UUID | None = None,
) -> Any:
    """A ``delivery.letter.requested`` envelope as the notifications service publishes it."""
    payload = LetterDeliveryRequestedV1(
        notification_id=uuid.uuid4(),
        service_id=service_id or uuid.uuid4(),
        template_id=uuid.uuid4(),
        template_version=1,
        address_lines=[] if precompiled else list(address or ADDRESS),
        body="" if precompiled else body,
        subject=None if precompiled else "About your licence",
        postage=postage,
        key_type=key_type,
        created_at=created_at or dt.datetime.now(dt.UTC),
        contact_block=None if precompiled else "Licensing team\n0300 123 4567",
        precompiled=precompiled,
    )
    return new_envelope(payload, producer="notifications", correlation_id=f"corr-{uuid.uuid4().hex[:8]}")


def letter_pdf(*, address: list[str] | None = None, pages: int = 1) -> bytes:
    """A valid letter PDF with ``address`` in the address window (what a precompiled upload looks like)."""
    body = "\n\n---\n\n".join(f"Page {n}" for n in range(1, pages + 1))
    lines = validate_address_lines(list(address or ADDRESS), allow_international_letters=True)
    return render_letter_pdf(RenderedLetter("Letter", body), lines, date=dt.date(2025, 1, 2)).pdf


def reports(db: Database) -> list[Any]:
    """Every status report in the outbox, oldest first (payloads)."""
    with db.engine.connect() as conn:
        bodies = conn.execute(select(outbox.c.body).order_by(outbox.c.id)).scalars()
        return [decode(bytes(b)).payload for b in bodies]


def statuses(db: Database, notification_id: Any = None) -> list[tuple[str, str]]:
    """(notification id, status) of every report, a ``letter.returned`` event counting as ``returned-letter``."""
    return [
        (str(r.notification_id), getattr(r, "status", "returned-letter"))
        for r in reports(db)
        if notification_id is None or r.notification_id == notification_id
    ]


def letter_state(db: Database, notification_id: Any) -> str | None:
    with db.engine.connect() as conn:
        return conn.execute(
            select(letters.c.state).where(letters.c.notification_id == notification_id)
        ).scalar()


@pytest.fixture
def make_request() -> Callable[..., Any]:
    return letter_request


@pytest.fixture
def make_pdf() -> Callable[..., bytes]:
    return letter_pdf


@pytest.fixture
def outbox_reports() -> Callable[[Database], list[Any]]:
    return reports


@pytest.fixture
def outbox_statuses() -> Callable[..., list[tuple[str, str]]]:
    return statuses


@pytest.fixture
def state_of() -> Callable[[Database, Any], str | None]:
    return letter_state
