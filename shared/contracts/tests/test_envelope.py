"""Envelopes round-trip, are frozen, and bad or unknown messages are told apart."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from notify_contracts import (
    InvalidEvent,
    NotificationStatusReportedV1,
    UnknownEvent,
    decode,
    new_envelope,
    registered_events,
)
from pydantic import ValidationError


def _report() -> NotificationStatusReportedV1:
    return NotificationStatusReportedV1(
        notification_id=uuid.uuid4(), status="delivered", reported_at=datetime.now(UTC)
    )


def test_round_trip_keeps_type_version_ids_and_payload() -> None:
    env = new_envelope(_report(), producer="delivery-sms", correlation_id="corr-1", causation_id="cause-1")
    back = decode(env.model_dump_json())
    assert back == env
    assert isinstance(back.payload, NotificationStatusReportedV1)
    assert back.routing_key == "notification.status_reported.v1"
    assert (back.correlation_id, back.causation_id, back.producer) == ("corr-1", "cause-1", "delivery-sms")


def test_events_and_envelopes_are_frozen() -> None:
    env = new_envelope(_report(), producer="p", correlation_id="c")
    with pytest.raises(ValidationError):
        env.payload.status = "sending"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        env.producer = "other"  # type: ignore[misc]


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError):
        NotificationStatusReportedV1(
            notification_id=uuid.uuid4(), status="delivered", reported_at=datetime.now(UTC), surprise=1
        )


@pytest.mark.parametrize("raw", [b"not json", b"{}", b'{"type": "x"}', b"[1,2]"])
def test_undecodable_messages_are_invalid(raw: bytes) -> None:
    with pytest.raises(InvalidEvent):
        decode(raw)


def test_unknown_version_is_reported_as_unknown() -> None:
    env = new_envelope(_report(), producer="p", correlation_id="c")
    raw = env.model_dump_json().replace('"version":1', '"version":9')
    with pytest.raises(UnknownEvent, match="v9"):
        decode(raw)


def test_registered_payload_that_breaks_its_model_is_invalid() -> None:
    env = new_envelope(_report(), producer="p", correlation_id="c")
    raw = env.model_dump_json().replace('"status":"delivered"', '"status":"exploded"')
    with pytest.raises(InvalidEvent, match="payload.status"):
        decode(raw)


def test_every_event_routes_by_type_and_major_version() -> None:
    for (event_type, version), model in registered_events().items():
        assert model.routing_key() == f"{event_type}.v{version}"
