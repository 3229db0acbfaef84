"""Typed shapes of the public v2 read responses, for the OpenAPI document only.

Routes return the exact JSON built by ``domain.reads`` / ``domain.presenters``; these models describe it (they
are not event contracts and are never used to serialise, so the wire format cannot drift through them).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

TemplateType = Literal["sms", "email", "letter"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorItem(_Model):
    error: str = Field(examples=["ValidationError"])
    message: str = Field(examples=["older_than is not a valid UUID"])


class ErrorResponse(_Model):
    status_code: int
    errors: list[ErrorItem]


class TemplateRef(_Model):
    id: str
    version: int
    uri: str


class Notification(_Model):
    id: str
    reference: str | None
    email_address: str | None
    phone_number: str | None
    line_1: str | None
    line_2: str | None
    line_3: str | None
    line_4: str | None
    line_5: str | None
    line_6: str | None
    postcode: str | None
    type: TemplateType
    status: str
    template: TemplateRef
    body: str
    subject: str | None
    created_at: str = Field(description="UTC, e.g. 2024-05-17T15:58:38.342838Z")
    created_by_name: str | None
    sent_at: str | None
    completed_at: str | None
    scheduled_for: None
    postage: str | None
    one_click_unsubscribe_url: str | None
    estimated_delivery: str | None = Field(default=None, description="letters only")
    is_cost_data_ready: bool
    cost_in_pounds: float | None
    cost_details: dict[str, float | int | str]


class PageLinks(_Model):
    current: str
    next: str | None = Field(default=None, description="present if and only if the page is not empty")


class NotificationList(_Model):
    notifications: list[Notification]
    links: PageLinks


class PlaceholderInfo(_Model):
    required: bool


class Template(_Model):
    id: str
    type: TemplateType
    created_at: str
    updated_at: str | None
    created_by: str = Field(description="email address of the user who made this version")
    version: int
    body: str
    subject: str | None
    name: str
    personalisation: dict[str, PlaceholderInfo]
    postage: str | None
    letter_contact_block: str | None


class TemplateList(_Model):
    templates: list[Template]


class TemplatePreviewRequest(_Model):
    model_config = ConfigDict(extra="allow")
    personalisation: dict[str, object] | None = None


class TemplatePreview(_Model):
    id: str
    type: TemplateType
    version: int
    body: str
    html: str | None
    subject: str | None
    postage: str | None


class ReceivedTextMessage(_Model):
    id: str
    user_number: str = Field(description="sender in international form without +")
    notify_number: str
    created_at: str
    service_id: str
    content: str


class ReceivedTextMessageList(_Model):
    received_text_messages: list[ReceivedTextMessage]
    links: PageLinks
