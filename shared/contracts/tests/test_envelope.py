"""Envelopes round-trip, are frozen, and bad or unknown messages are told apart."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from notify_contracts import (
    InvalidEvent,
    NotificationStatusReportedV1,
    UnknownEvent,
    decode,
    decode_many,
    encode_bundle,
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


def test_a_bundle_round_trips_as_its_events_in_order() -> None:
    envs = [new_envelope(_report(), producer="jobs", correlation_id="job-1") for _ in range(3)]
    raw = encode_bundle(envs)
    assert decode_many(raw) == envs
    assert decode_many(b"  \n" + raw) == envs  # leading whitespace is still a bundle
    assert decode_many(envs[0].model_dump_json()) == [envs[0]]  # a lone envelope is a list of one


def test_a_bundle_is_encoded_only_from_events_of_one_type_and_version() -> None:
    with pytest.raises(ValueError, match="at least one"):
        encode_bundle([])
    one = new_envelope(_report(), producer="t", correlation_id="c")
    with pytest.raises(ValueError, match="one type and version"):
        encode_bundle([one, one.model_copy(update={"version": 2})])


def _dumped(n: int) -> list[dict[str, Any]]:
    return [
        json.loads(new_envelope(_report(), producer="t", correlation_id="c").model_dump_json())
        for _ in range(n)
    ]


@pytest.mark.parametrize(
    ("items", "error", "message"),
    [
        ([], InvalidEvent, "an empty bundle"),
        ([1, 2], InvalidEvent, "not a bundle of event envelopes"),
        ([{**_dumped(1)[0], "version": 9}, *_dumped(1)], InvalidEvent, "one type and version"),
        (
            [{**item, "version": 9} for item in _dumped(2)],
            UnknownEvent,
            "unknown event notification.status_reported v9",
        ),
        (
            [*_dumped(1), {**_dumped(1)[0], "payload": {"status": "delivered"}}],
            InvalidEvent,
            "bundle invalid at 1.payload",
        ),
    ],
)
def test_a_broken_bundle_is_refused_whole(items: list[Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        decode_many(json.dumps(items).encode())
