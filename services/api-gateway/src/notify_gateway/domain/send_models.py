"""Typed shapes of the v2 send requests and 201 responses, and of one notification, for the OpenAPI document only.

As in ``read_models``: the routes parse and validate bodies themselves (``validation.py``, Notify's messages) and
return the exact JSON built by ``domain.sending`` / ``domain.presenters``. These models only describe that JSON;
they are never used to parse or serialise, so neither the wire format nor the error wording can drift through
them. Request models are inlined into the operation's ``requestBody`` (``openapi_extra``), so they are kept flat
(no nested models, hence no ``$defs`` references to resolve).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, RootModel

from .read_models import ErrorResponse, Notification, TemplateRef

__all__ = [
    "EmailContent",
    "EmailRequest",
    "EmailResponse",
    "ErrorResponse",
    "LetterContent",
    "LetterRequest",
    "LetterResponse",
    "Notification",
    "PrecompiledLetterRequest",
    "PrecompiledLetterResponse",
    "SanitisedValue",
    "SmsContent",
    "SmsRequest",
    "SmsResponse",
    "TemplatedLetterResponse",
    "GET_ONE_ERRORS",
    "PDF_ERRORS",
    "LETTER_ERRORS",
    "SEND_ERRORS",
    "letter_request_body",
    "request_body",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


_UUID = {"format": "uuid"}
_PERSONALISATION_DOC = (
    "values for the template's placeholders (names compared without regard to case, spaces, `_` or `-`; "
    "names the template does not use are ignored)"
)


def _optional(**kwargs: Any) -> Any:
    """An optional field that may not be null: absent is fine, ``null`` is refused (validation.py), so the schema
    is the value's type alone, with no ``null`` and no ``"default": null``."""
    extra = kwargs.pop("json_schema_extra", {})

    def schema_extra(schema: dict[str, Any]) -> None:
        schema.pop("default", None)
        schema.update(extra)

    return Field(default=None, json_schema_extra=schema_extra, **kwargs)


def _reference() -> Any:
    return _optional(max_length=1000, description="your own reference, echoed back; not unique")


def _scheduled_for() -> Any:
    return Field(
        default=None,
        description="accepted (ISO 8601, in the future, at most 24 hours ahead) but ignored",
        json_schema_extra={"format": "date-time"},
    )


# --------------------------------------------------------------------------------------------------
# requests (documentation of what validation.py enforces)


class SmsRequest(_Model):
    phone_number: str = Field(description="UK or international number", examples=["07700900123"])
    template_id: str = Field(description="an sms template of this service", json_schema_extra=_UUID)
    personalisation: dict[str, Any] = _optional(description=_PERSONALISATION_DOC)
    reference: str = _reference()
    sms_sender_id: str = _optional(
        description="one of the service's SMS senders; the default sender otherwise",
        json_schema_extra=_UUID,
    )
    scheduled_for: str | None = _scheduled_for()


class EmailRequest(_Model):
    email_address: str = Field(examples=["someone@example.gov.uk"])
    template_id: str = Field(description="an email template of this service", json_schema_extra=_UUID)
    personalisation: dict[str, Any] = _optional(
        description=_PERSONALISATION_DOC
        + '; values may be lists, or file objects (`{"file": <base64>, ...}`)',
    )
    reference: str = _reference()
    email_reply_to_id: str = _optional(
        description="one of the service's reply-to addresses; the default otherwise",
        json_schema_extra=_UUID,
    )
    one_click_unsubscribe_url: str = _optional(
        description="an https URI; sent as the List-Unsubscribe header",
        json_schema_extra={"format": "uri", "pattern": "^https"},
    )
    sanitise_content_for: list[str] | None = Field(
        default=None, description="personalisation keys whose values are stripped of links and markdown"
    )
    scheduled_for: str | None = _scheduled_for()


class LetterRequest(_Model):
    template_id: str = Field(description="a letter template of this service", json_schema_extra=_UUID)
    personalisation: dict[str, Any] = Field(
        description="`address_line_1` … `address_line_7` (or lines 1-6 and `postcode`), 3 to 7 non-empty lines, "
        "plus the template's placeholders",
        examples=[{"address_line_1": "A Person", "address_line_2": "1 Street", "address_line_3": "SW1A 1AA"}],
    )
    reference: str = _reference()


class PrecompiledLetterRequest(_Model):
    """A body with a ``content`` key is a precompiled letter: the 201 is then only ``id``, ``reference`` and
    ``postage``; the letter starts in ``pending-virus-check`` while its PDF is scanned and checked."""

    reference: str = Field(description="required, a string")
    content: str = Field(description="base64 of an A4 PDF, at most 10 pages")
    postage: str = _optional(json_schema_extra={"enum": ["first", "second", "economy"]})


def request_body(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` documenting a required JSON body (the route itself reads and validates the raw body)."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }


def letter_request_body() -> dict[str, Any]:
    schema = {
        "oneOf": [LetterRequest.model_json_schema(), PrecompiledLetterRequest.model_json_schema()],
        "description": "templated, or precompiled when the body has a `content` key",
    }
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


# --------------------------------------------------------------------------------------------------
# 201 responses


class SmsContent(_Model):
    body: str = Field(description="placeholders filled, without the service name prefix")
    from_number: str = Field(description="the SMS sender (phone-number senders normalised)")


class EmailContent(_Model):
    from_email: str
    subject: str
    body: str = Field(description="plain-text markdown with placeholders filled")
    one_click_unsubscribe_url: str | None


class LetterContent(_Model):
    body: str = Field(description="letter body markdown with placeholders filled")
    subject: str = Field(description="the heading, filled")


class SanitisedValue(_Model):
    unsanitised: str
    sanitised: str


class _Sent(_Model):
    id: str = Field(description="the new notification id")
    reference: str | None
    uri: str = Field(description="where to GET the notification")
    template: TemplateRef
    scheduled_for: None = Field(description="always null")


class SmsResponse(_Sent):
    content: SmsContent


class EmailResponse(_Sent):
    content: EmailContent
    sanitised_content: dict[str, SanitisedValue] = Field(
        description="always present: `{}` unless `sanitise_content_for` changed a value"
    )


class TemplatedLetterResponse(_Sent):
    content: LetterContent


class PrecompiledLetterResponse(_Model):
    id: str = Field(description="the new notification id")
    reference: str | None
    postage: str = Field(json_schema_extra={"enum": ["first", "second", "economy"]})


class LetterResponse(RootModel[TemplatedLetterResponse | PrecompiledLetterResponse]):
    """A templated letter's 201, or a precompiled letter's (only ``id``, ``reference`` and ``postage``)."""


# --------------------------------------------------------------------------------------------------
# documented error answers (the v2 envelope: public-api.md §4, §10)


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorResponse, "description": description}


_AUTH: dict[int | str, dict[str, Any]] = {
    401: _error("AuthError: no token, or not a bearer token"),
    403: _error("AuthError: the token is not valid for a key of this service"),
}
_UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    500: _error("unexpected error (`Internal server error`)"),
    503: _error("ServiceUnavailableError: a dependency is unreachable, or the broker did not confirm"),
}
SEND_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _error(
        "ValidationError (schema, recipient, a NUL character in any value), BadRequestError (permissions, template, "
        "sender, team or trial "
        "restrictions, length, `Invalid JSON supplied in POST data`) or InvalidPhoneError"
    ),
    **_AUTH,
    413: _error("BadRequestError: the body is larger than the configured limit"),
    429: _error("RateLimitError (per-minute rate limit) or TooManyRequestsError (daily limit)"),
    **_UNAVAILABLE,
}
LETTER_ERRORS: dict[int | str, dict[str, Any]] = {
    **SEND_ERRORS,
    400: _error(
        "ValidationError (schema, address, QR code too long, precompiled `reference`/`postage`, a NUL character) or "
        "BadRequestError (permissions, template, `Invalid JSON supplied in POST data`, "
        "`Cannot decode letter content (invalid base64 encoding)`)"
    ),
    403: _error(
        "AuthError, or BadRequestError `Cannot send letters with a team api key` / "
        "`Cannot send letters when service is in trial mode`"
    ),
}
PDF_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _error(
        "ValidationError `notification_id is not a valid UUID`; BadRequestError `Notification is not a letter`, "
        "`File did not pass the virus scan`, `PDF not available for letters in status technical-failure`; "
        "PDFNotReadyError `PDF not available yet, try again later` (poll again)"
    ),
    **_AUTH,
    404: _error("NoResultFound: `No result found`"),
    **_UNAVAILABLE,
}
GET_ONE_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _error("ValidationError: `notification_id is not a valid UUID`"),
    **_AUTH,
    404: _error("NoResultFound: `No result found`"),
    **_UNAVAILABLE,
}
