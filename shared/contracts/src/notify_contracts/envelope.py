"""The envelope every event travels in, and the registry that maps (type, version) to a payload model."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError


class Event(BaseModel):
    """Base class of every event payload. Subclasses set ``event_type`` and ``event_version``.

    Payloads are frozen and reject unknown fields, so a producer cannot smuggle data past the contract.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: ClassVar[str]
    event_version: ClassVar[int]
    # True for requests that someone must act on (publishing them with no queue bound is an error); False for
    # announcements that may have no subscriber yet (published, and dropped by the broker if nobody listens).
    must_route: ClassVar[bool] = True

    @classmethod
    def routing_key(cls) -> str:
        return f"{cls.event_type}.v{cls.event_version}"


PayloadT = TypeVar("PayloadT", bound=Event)


class Envelope(BaseModel, Generic[PayloadT]):
    """Metadata common to every message on the bus; ``payload`` is the typed event."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    type: str
    version: int = Field(ge=1)
    occurred_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    correlation_id: str
    causation_id: str | None = None
    producer: str
    payload: PayloadT

    @property
    def routing_key(self) -> str:
        return f"{self.type}.v{self.version}"


class UnknownEvent(Exception):
    """The (type, version) pair is not registered: the message belongs in a dead-letter queue."""


class InvalidEvent(Exception):
    """The message could not be decoded into its registered model."""


_REGISTRY: dict[tuple[str, int], type[Event]] = {}


def register(model: type[Event]) -> type[Event]:
    key = (model.event_type, model.event_version)
    if key in _REGISTRY and _REGISTRY[key] is not model:
        raise ValueError(f"event {key} registered twice")
    _REGISTRY[key] = model
    return model


def registered_events() -> dict[tuple[str, int], type[Event]]:
    return dict(_REGISTRY)


def model_for_routing_key(routing_key: str) -> type[Event] | None:
    """The registered model for ``<type>.v<version>``, or None."""
    event_type, _, version = routing_key.rpartition(".v")
    if not version.isdigit():
        return None
    return _REGISTRY.get((event_type, int(version)))


@functools.cache
def envelope_class(model: type[Event]) -> type[Envelope[Any]]:
    """``Envelope[model]``, made once per event model (pydantic's own lookup of a generic is slow when hot)."""
    return Envelope[model]  # type: ignore[valid-type]


def new_envelope(
    payload: Event,
    *,
    producer: str,
    correlation_id: str,
    causation_id: str | None = None,
) -> Envelope[Any]:
    return envelope_class(type(payload))(
        type=payload.event_type,
        version=payload.event_version,
        correlation_id=correlation_id,
        causation_id=causation_id,
        producer=producer,
        payload=payload,
    )


def decode(raw: bytes | str) -> Envelope[Any]:
    """Parse a message body into a typed envelope.

    Raises ``InvalidEvent`` for undecodable bodies and ``UnknownEvent`` for unregistered type/version pairs.
    """
    try:
        head = _Head.model_validate_json(raw)
    except ValidationError as exc:
        raise InvalidEvent(f"not an event envelope: {exc.errors()[0]['msg']}") from exc
    model = _REGISTRY.get((head.type, head.version))
    if model is None:
        raise UnknownEvent(f"unknown event {head.type} v{head.version}")
    try:
        return envelope_class(model).model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidEvent(f"{head.type} v{head.version} invalid at {where}: {first['msg']}") from exc


class _Head(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: str
    version: int


# Bundles: many events of one type and version in one message body, a JSON array of envelopes. A publisher with a
# run of events for the same queue (a job's rows) sends one message per bundle instead of one per event, which
# spares the broker and both ends the per-message work (framing, confirm, delivery, ack) that dominates their CPU.
# Each event keeps its own envelope and id, and consumers handle it exactly as if it had come alone.
BUNDLE_HEADER = "x-events"
_HEADS: TypeAdapter[list[_Head]] = TypeAdapter(list[_Head])


@functools.cache
def _bundle_adapter(model: type[Event]) -> TypeAdapter[list[Envelope[Any]]]:
    return TypeAdapter(list[envelope_class(model)])  # type: ignore[valid-type]


def encode_bundle(envelopes: Sequence[Envelope[Any]]) -> bytes:
    """One message body for several events of a single type and version (published with their routing key)."""
    if not envelopes:
        raise ValueError("a bundle holds at least one event")
    if len({(env.type, env.version) for env in envelopes}) != 1:
        raise ValueError("a bundle holds events of one type and version")
    return b"[" + b",".join(env.model_dump_json().encode() for env in envelopes) + b"]"


def decode_many(raw: bytes | str) -> list[Envelope[Any]]:
    """A message body as the events it carries: one envelope (a JSON object) or a bundle (a JSON array).

    Raises ``InvalidEvent`` or ``UnknownEvent`` as ``decode`` does; a bundle is refused as a whole (an empty one, one
    mixing types or versions, or one with any invalid envelope: its publisher is broken, not one event).
    """
    if (raw.lstrip()[:1] if isinstance(raw, bytes) else raw.lstrip()[:1].encode()) != b"[":
        return [decode(raw)]
    try:
        heads = _HEADS.validate_json(raw)
    except ValidationError as exc:
        raise InvalidEvent(f"not a bundle of event envelopes: {exc.errors()[0]['msg']}") from exc
    kinds = {(head.type, head.version) for head in heads}
    if len(kinds) != 1:
        raise InvalidEvent(
            "a bundle must hold events of one type and version" if kinds else "an empty bundle"
        )
    ((event_type, version),) = kinds
    model = _REGISTRY.get((event_type, version))
    if model is None:
        raise UnknownEvent(f"unknown event {event_type} v{version}")
    try:
        return _bundle_adapter(model).validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidEvent(f"{event_type} v{version} bundle invalid at {where}: {first['msg']}") from exc
