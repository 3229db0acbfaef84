"""Every event on the bus, one frozen model per (type, major version).

Changelog (a breaking change is a new major version, consumed side by side until the old one is retired):
- sms.received v1, letter.returned v1: first versions.
- letter.cancelled v1: first version.
- email.complaint_received v1: first version.
- notification.requested v1 gained the optional ``precompiled`` (a letter uploaded as a PDF).
- delivery.letter.requested v1 gained the optional ``contact_block`` and ``precompiled``; notification.status_reported
  v1 gained the optional ``recipient`` and ``postage`` (what a precompiled letter's PDF turned out to hold).
- notification.requested v1 gained the optional ``address_lines`` (validated letter address).
- notification.requested v1, delivery.{sms,email,letter}.requested v1, notification.status_reported v1,
  notification.status_changed v1, service.changed v1, template.changed v1, api_key.changed v1: first versions.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from .envelope import Event, register

NotificationType = Literal["sms", "email", "letter"]
KeyType = Literal["normal", "team", "test"]
NotificationStatus = Literal[
    "created",
    "sending",
    "sent",
    "delivered",
    "pending",
    "failed",
    "technical-failure",
    "temporary-failure",
    "permanent-failure",
    "pending-virus-check",
    "validation-failed",
    "virus-scan-failed",
    "returned-letter",
    "cancelled",
]


# Filter names that stand for several statuses (public-api.md §7.3); the admin's notification filters use the same.
STATUS_FILTER_EXPANSIONS: dict[str, tuple[str, ...]] = {
    "failed": (
        "technical-failure",
        "temporary-failure",
        "permanent-failure",
        "validation-failed",
        "virus-scan-failed",
        "returned-letter",
    ),
    "accepted": ("created", "sending"),
    "received": ("delivered",),
}


@register
class NotificationRequestedV1(Event):
    """A notification was accepted (by the public API or a job row) and must be stored and delivered."""

    event_type = "notification.requested"
    event_version = 1

    notification_id: uuid.UUID
    service_id: uuid.UUID
    notification_type: NotificationType
    template_id: uuid.UUID
    template_version: int = Field(ge=1)
    recipient: str
    normalised_recipient: str
    personalisation: dict[str, Any] = Field(default_factory=dict)
    client_reference: str | None = None
    api_key_id: uuid.UUID | None = None
    key_type: KeyType
    created_at: datetime
    body: str
    subject: str | None = None
    sender_id: uuid.UUID | None = None
    sender: str | None = None
    international: bool = False
    phone_prefix: str | None = None
    rate_multiplier: float | None = None
    billable_units: int = 0
    postage: str | None = None
    address_lines: list[str] | None = None
    one_click_unsubscribe_url: str | None = None
    job_id: uuid.UUID | None = None
    job_row_number: int | None = None
    created_by_id: uuid.UUID | None = None
    # A precompiled letter: its PDF is already held by delivery-letter; it starts in pending-virus-check.
    precompiled: bool = False


@register
class SmsDeliveryRequestedV1(Event):
    """Command-like event for delivery-sms: send this text once."""

    event_type = "delivery.sms.requested"
    event_version = 1

    notification_id: uuid.UUID
    service_id: uuid.UUID
    to: str
    content: str
    sender: str
    key_type: KeyType
    international: bool = False
    created_at: datetime


@register
class EmailDeliveryRequestedV1(Event):
    """Command-like event for delivery-email: send this email once."""

    event_type = "delivery.email.requested"
    event_version = 1

    notification_id: uuid.UUID
    service_id: uuid.UUID
    to: str
    subject: str
    body: str
    from_address: str
    reply_to: str | None = None
    one_click_unsubscribe_url: str | None = None
    key_type: KeyType
    created_at: datetime


@register
class LetterDeliveryRequestedV1(Event):
    """Command-like event for delivery-letter: render (or take) the PDF and send it to print."""

    event_type = "delivery.letter.requested"
    event_version = 1

    notification_id: uuid.UUID
    service_id: uuid.UUID
    template_id: uuid.UUID
    template_version: int
    address_lines: list[str]
    body: str
    subject: str | None = None
    postage: str
    key_type: KeyType
    created_at: datetime
    contact_block: str | None = None
    # True: the PDF was uploaded with the request (held by delivery-letter under the notification id) and must be
    # scanned and validated; address_lines, body and subject are then empty and the PDF is the letter.
    precompiled: bool = False


@register
class NotificationStatusReportedV1(Event):
    """A delivery service learned something about a notification's delivery (a send, a receipt, a failure)."""

    event_type = "notification.status_reported"
    event_version = 1

    notification_id: uuid.UUID
    status: NotificationStatus
    provider: str | None = None
    provider_reference: str | None = None
    sent_at: datetime | None = None
    reported_at: datetime
    billable_units: int | None = None
    detail: str | None = None
    # Only for a precompiled letter that passed validation: the address read from its PDF (lines joined by "\n")
    # and the postage it implies (europe / rest-of-world for an address abroad).
    recipient: str | None = None
    postage: str | None = None


@register
class LetterCancelledV1(Event):
    """A letter was cancelled before its print cut-off: delivery-letter must leave it out of every batch.

    Its own event (besides the ``cancelled`` status change everyone sees), so that delivery-letter's queue carries
    the few cancellations rather than every status change of every channel.
    """

    event_type = "letter.cancelled"
    event_version = 1

    notification_id: uuid.UUID
    service_id: uuid.UUID
    cancelled_at: datetime


@register
class EmailComplaintReceivedV1(Event):
    """A recipient marked a delivered email as spam. The status does not change; the service is told (callbacks).

    Announced even before anything consumes it, so it is not mandatory-routed.
    """

    event_type = "email.complaint_received"
    event_version = 1
    must_route = False

    complaint_id: uuid.UUID
    notification_id: uuid.UUID
    service_id: uuid.UUID
    complained_at: datetime
    provider_reference: str | None = None


@register
class SmsReceivedV1(Event):
    """A text sent to one of the platform's inbound numbers, as a provider reported it to delivery-sms.

    Notifications matches the destination to a service (behaviour.md §12); an unknown number is logged and dropped.
    """

    event_type = "sms.received"
    event_version = 1

    # Minted by delivery-sms from the provider and its reference: the same report twice is one.
    inbound_id: uuid.UUID
    provider: str
    provider_reference: str | None = None
    destination_number: str  # as the provider sent it (international digits, e.g. 447700900456)
    source_number: str  # the sender, as the provider sent it
    message: str
    received_at: datetime  # the provider's time


@register
class LetterReturnedV1(Event):
    """The print provider reported a letter returned to sender (reported in bulk, days after it was delivered)."""

    event_type = "letter.returned"
    event_version = 1

    notification_id: uuid.UUID
    reported_at: datetime


@register
class NotificationStatusChangedV1(Event):
    """The notifications service applied a new status; callbacks, jobs and statistics follow this."""

    event_type = "notification.status_changed"
    event_version = 1
    must_route = False

    notification_id: uuid.UUID
    service_id: uuid.UUID
    notification_type: NotificationType
    key_type: KeyType
    previous_status: NotificationStatus
    status: NotificationStatus
    sent_at: datetime | None = None
    completed_at: datetime | None = None
    job_id: uuid.UUID | None = None


@register
class ServiceChangedV1(Event):
    """A service's settings, keys, senders or guest list changed: caches of it must be dropped."""

    event_type = "service.changed"
    event_version = 1
    must_route = False

    service_id: uuid.UUID
    reason: str


@register
class TemplateChangedV1(Event):
    """A template gained a version or was archived: caches of it must be dropped."""

    event_type = "template.changed"
    event_version = 1
    must_route = False

    service_id: uuid.UUID
    template_id: uuid.UUID
    version: int


@register
class ApiKeyChangedV1(Event):
    """An API key was created or revoked: the gateway's key cache for the service must be dropped."""

    event_type = "api_key.changed"
    event_version = 1
    must_route = False

    service_id: uuid.UUID
    api_key_id: uuid.UUID
    revoked: bool
