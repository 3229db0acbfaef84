"""Event contracts shared by every service: an envelope, typed payloads, and their JSON Schemas."""

from .envelope import (
    Envelope,
    Event,
    InvalidEvent,
    UnknownEvent,
    decode,
    model_for_routing_key,
    new_envelope,
    register,
    registered_events,
)
from .events import (
    ApiKeyChangedV1,
    EmailComplaintReceivedV1,
    EmailDeliveryRequestedV1,
    LetterCancelledV1,
    LetterDeliveryRequestedV1,
    NotificationRequestedV1,
    NotificationStatusChangedV1,
    NotificationStatusReportedV1,
    ServiceChangedV1,
    SmsDeliveryRequestedV1,
    TemplateChangedV1,
)

__all__ = [
    "ApiKeyChangedV1",
    "EmailComplaintReceivedV1",
    "EmailDeliveryRequestedV1",
    "Envelope",
    "Event",
    "InvalidEvent",
    "LetterCancelledV1",
    "LetterDeliveryRequestedV1",
    "NotificationRequestedV1",
    "NotificationStatusChangedV1",
    "NotificationStatusReportedV1",
    "ServiceChangedV1",
    "SmsDeliveryRequestedV1",
    "TemplateChangedV1",
    "UnknownEvent",
    "decode",
    "model_for_routing_key",
    "new_envelope",
    "register",
    "registered_events",
]
