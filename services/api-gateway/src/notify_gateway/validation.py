"""Structural (JSON Schema draft-07) validation of v2 request bodies and query strings, with Notify's messages.

The schemas below are our own, written from the field rules of public-api.md §5 and §6. Every jsonschema error is
turned into one message by the rules of public-api.md §4.1:

1. a field whose sub-schema carries a custom message (UUIDs: ``is not a valid UUID``; https URLs:
   ``is not a valid https url``) gives ``<field> <custom message>`` whatever went wrong in it;
2. otherwise ``<first path element> <text>`` (just ``<text>`` at the top level), where the text is the format
   check's own reason if it gave one, else jsonschema's message, with every ``'`` removed;
3. messages keep schema keyword order (properties, then required, then additionalProperties); duplicates go.

Recipient formats (phone number, email address) are not checked here: the content engine checks them after
this structural stage.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from jsonschema import Draft7Validator, FormatChecker
from jsonschema.exceptions import ValidationError as SchemaError

__all__ = [
    "SCHEMAS",
    "ValidationFailed",
    "messages_for",
    "validate",
    "validate_query",
]


class ValidationFailed(Exception):
    """Schema validation failed; ``messages`` are Notify's texts, ordered, without duplicates."""

    def __init__(self, messages: Iterable[str]) -> None:
        self.messages: list[str] = list(dict.fromkeys(messages))
        super().__init__("; ".join(self.messages))


# --------------------------------------------------------------------------------------------------
# formats

# Our schema keyword holding a whole-field message (rule 1). jsonschema ignores unknown keywords.
MESSAGE = "notifyMessage"

POSTAGE_MESSAGE = "invalid. It must be either first, second or economy."
SCHEDULED_PAST = "datetime can not be in the past"
SCHEDULED_TOO_FAR = "datetime can only be 24 hours in the future"
SCHEDULED_FORMAT = "datetime format is invalid. It must be a valid ISO8601 date time format, https://en.wikipedia.org/wiki/ISO_8601"


class _FormatProblem(ValueError):
    """Raised by a format check whose text becomes the message (rule 2, "cause's text")."""


_formats = FormatChecker(formats=())


@_formats.checks("notify-uuid", raises=(ValueError, TypeError, AttributeError))
def _check_uuid(instance: object) -> bool:
    if isinstance(instance, str):
        uuid.UUID(instance)  # any form Python accepts (hyphenated, bare hex, braces, urn:uuid:)
    return True


# RFC 3986 characters: unreserved, reserved and "%" (escapes checked separately).
_URI_CHARS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*\Z")
_URI_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


@_formats.checks("notify-https-url")
def _check_https_url(instance: object) -> bool:
    if not isinstance(instance, str):
        return True
    return (
        instance.startswith("https")
        and _URI_SCHEME.match(instance) is not None
        and _URI_CHARS.match(instance) is not None
        and _BAD_ESCAPE.search(instance) is None
    )


@_formats.checks("notify-postage", raises=_FormatProblem)
def _check_postage(instance: object) -> bool:
    if isinstance(instance, str) and instance not in ("first", "second", "economy"):
        raise _FormatProblem(POSTAGE_MESSAGE)
    return True


@_formats.checks("notify-within-next-day", raises=_FormatProblem)
def _check_within_next_day(instance: object) -> bool:
    if not isinstance(instance, str):
        return True
    try:
        when = datetime.fromisoformat(instance)
    except ValueError:
        raise _FormatProblem(SCHEDULED_FORMAT) from None
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    now = datetime.now(UTC)
    if when < now:
        raise _FormatProblem(SCHEDULED_PAST)
    if when > now + timedelta(hours=24):
        raise _FormatProblem(SCHEDULED_TOO_FAR)
    return True


# --------------------------------------------------------------------------------------------------
# schemas (property order matters: it is the order of the messages)


def _uuid() -> dict[str, Any]:
    return {"type": "string", "format": "notify-uuid", MESSAGE: "is not a valid UUID"}


def _reference() -> dict[str, Any]:
    return {"type": "string", "maxLength": 1000}


def _personalisation() -> dict[str, Any]:
    return {"type": "object"}


def _scheduled_for() -> dict[str, Any]:
    return {"type": ["string", "null"], "format": "notify-within-next-day"}


def _object(properties: dict[str, Any], required: list[str] | None = None, *, closed: bool = True) -> dict:
    schema: dict[str, Any] = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": properties,
    }
    if required:
        schema["required"] = required
    if closed:
        schema["additionalProperties"] = False
    return schema


STATUSES = [
    "cancelled",
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
    "accepted",
    "received",
]
TEMPLATE_TYPES = ["sms", "email", "letter"]

SCHEMAS: dict[str, dict[str, Any]] = {
    "post_sms": _object(
        {
            "reference": _reference(),
            "phone_number": {"type": "string"},
            "template_id": _uuid(),
            "personalisation": _personalisation(),
            "scheduled_for": _scheduled_for(),
            "sms_sender_id": _uuid(),
        },
        ["phone_number", "template_id"],
    ),
    "post_email": _object(
        {
            "reference": _reference(),
            "email_address": {"type": "string"},
            "template_id": _uuid(),
            "personalisation": _personalisation(),
            "scheduled_for": _scheduled_for(),
            "email_reply_to_id": _uuid(),
            "one_click_unsubscribe_url": {
                "type": "string",
                "format": "notify-https-url",
                MESSAGE: "is not a valid https url",
            },
            "sanitise_content_for": {"type": ["array", "null"]},
        },
        ["email_address", "template_id"],
    ),
    "post_letter": _object(
        {
            "reference": _reference(),
            "template_id": _uuid(),
            "personalisation": _personalisation(),
        },
        ["template_id", "personalisation"],
    ),
    "post_precompiled_letter": _object(
        {
            "reference": {"type": "string"},
            "content": {"type": "string"},
            "postage": {"type": "string", "format": "notify-postage"},
        },
        ["reference", "content"],
    ),
    "get_notifications": _object(
        {
            "reference": {"type": "string"},
            "status": {"type": "array", "items": {"enum": STATUSES}},
            "template_type": {"type": "array", "items": {"enum": TEMPLATE_TYPES}},
            "include_jobs": {"enum": ["true", "True"]},
            "older_than": _uuid(),
        }
    ),
    "get_templates": _object({"type": {"enum": TEMPLATE_TYPES}}),
    "get_received_texts": _object({"older_than": _uuid()}),
    # The route may add the path id as "id"; the body itself only has personalisation. Extra keys are allowed.
    "post_template_preview": _object({"id": _uuid(), "personalisation": _personalisation()}, closed=False),
    # Path parameters, for routes that want the same messages: {"notification_id": ...}, {"id": ..., "version": ...}
    "notification_by_id": _object({"notification_id": _uuid()}, ["notification_id"], closed=False),
    "get_template_by_id": _object(
        {"id": _uuid(), "version": {"type": ["integer", "null"], "minimum": 0}}, ["id"]
    ),
}

_VALIDATORS = {name: Draft7Validator(schema, format_checker=_formats) for name, schema in SCHEMAS.items()}

# Query strings: which parameters may repeat (kept as lists); every other parameter uses its first value.
# Unknown parameters stay lists for get_notifications (only their names reach the message).
_QUERY_LISTS: dict[str, frozenset[str]] = {
    "get_notifications": frozenset({"status", "template_type"}),
    "get_templates": frozenset(),
    "get_received_texts": frozenset(),
}
_QUERY_SCALARS: dict[str, frozenset[str] | None] = {
    "get_notifications": frozenset({"reference", "older_than", "include_jobs"}),
    "get_templates": None,  # None: every parameter, known or not, takes its first value
    "get_received_texts": None,
}


# --------------------------------------------------------------------------------------------------
# messages


def _message(error: SchemaError) -> str:
    path = list(error.path)
    custom = error.schema.get(MESSAGE) if isinstance(error.schema, Mapping) else None
    if custom and path:
        return f"{path[0]} {custom}"
    text = str(error.cause) if error.cause is not None else error.message
    text = text.replace("'", "")
    if path and path[0] not in ("", None):
        return f"{path[0]} {text}"
    return text


def messages_for(errors: Iterable[SchemaError]) -> list[str]:
    """Notify's messages for jsonschema errors, in the order given, duplicates dropped."""
    return list(dict.fromkeys(_message(e) for e in errors))


# --------------------------------------------------------------------------------------------------
# public API


def _validator(schema: str) -> Draft7Validator:
    try:
        return _VALIDATORS[schema]
    except KeyError:
        raise ValueError(f"unknown schema {schema!r}") from None


def _coerce_query(schema: str, instance: object) -> object:
    if schema not in _QUERY_LISTS or not isinstance(instance, Mapping):
        return instance
    lists, scalars = _QUERY_LISTS[schema], _QUERY_SCALARS[schema]
    out: dict[str, Any] = {}
    for name, value in instance.items():
        if name in lists:
            out[name] = list(value) if isinstance(value, list | tuple) else [value]
        elif scalars is None or name in scalars:
            out[name] = value[0] if isinstance(value, list | tuple) and value else value
        else:
            out[name] = value
    return out


def validate(schema: str, instance: object) -> None:
    """Validate ``instance`` against the named schema; raise ``ValidationFailed`` with every message.

    Names: ``post_sms``, ``post_email``, ``post_letter`` (templated), ``post_precompiled_letter``,
    ``post_template_preview``, ``get_notifications``, ``get_templates``, ``get_received_texts`` (and the path
    schemas ``notification_by_id``, ``get_template_by_id``). For the three GET schemas the instance may be a
    ``dict[str, list[str]]`` of query values; it is coerced as ``validate_query`` does before validating.
    """
    validator = _validator(schema)
    errors = list(validator.iter_errors(_coerce_query(schema, instance)))
    if errors:
        raise ValidationFailed(messages_for(errors))


def validate_query(schema: str, params: list[tuple[str, str]]) -> dict[str, list[str] | str]:
    """Validate a GET query string given as ``(name, value)`` pairs in request order.

    ``status`` and ``template_type`` (get_notifications) may repeat and come back as lists; every other
    parameter uses its first value. Key order is the order of first appearance. Raises ``ValidationFailed``.
    """
    if schema not in _QUERY_LISTS:
        raise ValueError(f"{schema!r} is not a query-string schema")
    grouped: dict[str, list[str]] = {}
    for name, value in params:
        grouped.setdefault(name, []).append(value)
    coerced = _coerce_query(schema, grouped)
    assert isinstance(coerced, dict)
    errors = list(_validator(schema).iter_errors(coerced))
    if errors:
        raise ValidationFailed(messages_for(errors))
    return coerced
