"""The send path (public-api.md §5.0): checks in Notify's order, render, publish with confirm, remember, 201.

Nothing is written here: the gateway publishes ``notification.requested`` to a durable quorum queue and only
answers 201 once the broker confirmed it, so an accepted notification cannot be lost.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from notify_content.errors import ContentError, InvalidRecipientError, NotAUkMobile, QrCodeTooLong
from notify_content.recipients import (
    check_phone_permissions,
    is_smoke_test_recipient,
    validate_address,
    validate_email_address,
    validate_phone_number,
)
from notify_content.sanitise import sanitise_content_for
from notify_content.templates import EmailTemplate, LetterTemplate, SmsTemplate
from notify_contracts import NotificationRequestedV1

from . import files
from .errors import V2Error, bad_request, validation_error
from .recipients import restriction_message

CHANNEL_PERMISSION = {"sms": "sms", "email": "email", "letter": "letter"}
NOT_ALLOWED = {
    "sms": "Service is not allowed to send text messages",
    "email": "Service is not allowed to send emails",
    "letter": "Service is not allowed to send letters",
}


@dataclass(frozen=True)
class Accepted:
    event: NotificationRequestedV1
    response: dict[str, Any]
    smoke_test: bool


def _holds_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    return False


def refuse_unstorable(body: dict[str, Any]) -> None:
    """The first step of every send (v2 and the admin one-off): PostgreSQL cannot store U+0000 in text or jsonb, so
    a send holding it anywhere (keys included), once accepted, could never be stored. Refused while the caller can
    still be told."""
    field = next((str(k) for k, v in body.items() if _holds_nul(k) or _holds_nul(v)), None)
    if field is not None:
        raise validation_error(f"{field} must not contain the NUL character (\\u0000)")


def _event(
    kind: str,
    *,
    request: dict[str, Any],
    service: dict[str, Any],
    key: Any,
    template: dict[str, Any],
    **fields: Any,
) -> NotificationRequestedV1:
    return NotificationRequestedV1(
        notification_id=uuid.uuid4(),
        service_id=uuid.UUID(service["id"]),
        notification_type=kind,
        template_id=uuid.UUID(template["id"]),
        template_version=template["version"],
        personalisation=request.get("personalisation") or {},
        client_reference=request.get("reference"),
        api_key_id=key.id,
        key_type=key.key_type,
        created_at=datetime.now(UTC),
        **fields,
    )


def _response(
    event: NotificationRequestedV1, content: dict[str, Any], root: str, **extra: Any
) -> dict[str, Any]:
    """The 201 body shared by every channel (public-api.md §5.1, §5.2)."""
    nid, sid, tid = event.notification_id, event.service_id, event.template_id
    return {
        "id": str(nid),
        "reference": event.client_reference,
        "content": content,
        "uri": f"{root}v2/notifications/{nid}",
        "template": {
            "id": str(tid),
            "version": event.template_version,
            "uri": f"{root}services/{sid}/templates/{tid}",
        },
        "scheduled_for": None,
        **extra,
    }


def check_template(template: dict[str, Any] | None, kind: str) -> dict[str, Any]:
    if template is None or template.get("hidden"):
        raise bad_request("Template not found")
    if template["template_type"] != kind:
        raise bad_request(f"{template['template_type']} template is not suitable for {kind} notification")
    if template["archived"]:
        raise bad_request("Template has been deleted")
    return template


def _content_error(exc: ContentError) -> V2Error:
    return bad_request(exc.message)


def _sms_sender(service: dict[str, Any], sender_id: str | None) -> tuple[uuid.UUID | None, str]:
    senders = [s for s in service.get("sms_senders", []) if not s["archived"]]
    if sender_id:
        chosen = next((s for s in senders if s["id"] == sender_id), None)
        if chosen is None:
            raise bad_request(
                f"sms_sender_id {sender_id} does not exist in database for service id {service['id']}"
            )
    else:
        chosen = next((s for s in senders if s["is_default"]), None)
    if chosen is None:
        return None, ""
    return uuid.UUID(chosen["id"]), chosen["sms_sender"]


def _email_reply_to(service: dict[str, Any], reply_to_id: str | None) -> tuple[uuid.UUID | None, str | None]:
    """The chosen reply-to address (must be one of the service's, not archived), else the default, if any."""
    addresses = [r for r in service.get("email_reply_to", []) if not r["archived"]]
    if reply_to_id:
        chosen = next((r for r in addresses if r["id"] == reply_to_id), None)
        if chosen is None:
            raise bad_request(
                f"email_reply_to_id {reply_to_id} does not exist in database for service id {service['id']}"
            )
    else:
        chosen = next((r for r in addresses if r["is_default"]), None)
    if chosen is None:
        return None, None
    return uuid.UUID(chosen["id"]), chosen["email_address"]


def _display_sender(sender: str) -> str:
    """Phone-number senders are shown normalised, alphanumeric ones as stored."""
    try:
        return validate_phone_number(sender).normalised if any(c.isdigit() for c in sender) else sender
    except ContentError:
        return sender


def prepare_sms(
    *, body: dict[str, Any], service: dict[str, Any], key: Any, template: dict[str, Any] | None, root: str
) -> Accepted:
    refuse_unstorable(body)
    try:
        phone = validate_phone_number(body["phone_number"])
    except InvalidRecipientError as exc:
        raise validation_error(f"phone_number {exc.message}") from exc
    if CHANNEL_PERMISSION["sms"] not in service["permissions"]:
        raise bad_request(NOT_ALLOWED["sms"])
    template = check_template(template, "sms")
    personalisation = body.get("personalisation") or {}
    prefix = service["name"] if service.get("prefix_sms") else None
    try:
        # The length is checked after the recipient checks (public-api.md §5.0 step 10), so render without it.
        rendered = SmsTemplate(template["content"], prefix=prefix).render(personalisation, check_length=False)
    except ContentError as exc:
        raise _content_error(exc) from exc
    files.reject_files(personalisation)
    sender_id, sender = _sms_sender(service, body.get("sms_sender_id"))
    refusal = restriction_message(service, key.key_type, "sms", phone.normalised)
    if refusal:
        raise bad_request(refusal)
    try:
        check_phone_permissions(
            phone,
            allow_international="international_sms" in service["permissions"],
            allow_landlines="sms_to_uk_landlines" in service["permissions"],
        )
    except InvalidRecipientError as exc:
        error = "InvalidPhoneError" if isinstance(exc, NotAUkMobile) else "BadRequestError"
        raise V2Error(400, error, exc.message) from exc
    try:
        rendered.check_length()
    except ContentError as exc:
        raise _content_error(exc) from exc
    event = _event(
        "sms",
        request=body,
        service=service,
        key=key,
        template=template,
        recipient=body["phone_number"].strip(),
        normalised_recipient=phone.normalised,
        body=rendered.body,
        sender_id=sender_id,
        sender=sender,
        international=phone.international,
        phone_prefix=phone.country_prefix,
        rate_multiplier=phone.rate_multiplier,
        billable_units=rendered.fragment_count,
    )
    response = _response(event, {"body": rendered.body, "from_number": _display_sender(sender)}, root)
    return Accepted(event, response, is_smoke_test_recipient(phone.normalised))


def prepare_email(
    *,
    body: dict[str, Any],
    service: dict[str, Any],
    key: Any,
    template: dict[str, Any] | None,
    root: str,
    email_domain: str,
    document_store: files.DocumentStore | None = None,
) -> Accepted:
    """An email (public-api.md §5.2). Stores attached files through ``document_store`` (blocking I/O: callers
    run this in a worker thread when the body carries files)."""
    refuse_unstorable(body)
    try:
        email = validate_email_address(body["email_address"])
    except InvalidRecipientError as exc:
        raise validation_error(f"email_address {exc.message}") from exc
    if CHANNEL_PERMISSION["email"] not in service["permissions"]:
        raise bad_request(NOT_ALLOWED["email"])
    personalisation, sanitised = sanitise_content_for(
        body.get("personalisation"), body.get("sanitise_content_for")
    )
    template = check_template(template, "email")
    email_template = EmailTemplate(template["subject"] or "", template["content"])
    try:
        rendered = email_template.render(
            files.with_placeholders(personalisation, root, service["id"]), check_length=False
        )
    except ContentError as exc:
        raise _content_error(exc) from exc
    reply_to_id, reply_to = _email_reply_to(service, body.get("email_reply_to_id"))
    refusal = restriction_message(service, key.key_type, "email", email.normalised)
    if refusal:
        raise bad_request(refusal)
    smoke_test = is_smoke_test_recipient(email.normalised)
    if files.file_keys(personalisation):
        # public-api.md §5.0 step 9: files are checked and stored, their links go in before the length check.
        personalisation = files.attach_files(
            personalisation,
            service=service,
            recipient=email.normalised,
            root=root,
            smoke_test=smoke_test,
            store=document_store,
        )
        try:
            rendered = email_template.render(personalisation, check_length=False)
        except ContentError as exc:
            raise _content_error(exc) from exc
    try:
        rendered.check_length()
    except ContentError as exc:
        raise _content_error(exc) from exc
    unsubscribe = body.get("one_click_unsubscribe_url")
    event = _event(
        "email",
        request={**body, "personalisation": personalisation},
        service=service,
        key=key,
        template=template,
        recipient=body["email_address"].strip(),
        normalised_recipient=email.normalised,
        body=rendered.body,
        subject=rendered.subject,
        one_click_unsubscribe_url=unsubscribe,
        sender_id=reply_to_id,
        sender=reply_to,
    )
    content = {
        "from_email": f"{service['email_sender_local_part']}@{email_domain}",
        "subject": rendered.subject,
        "body": rendered.body,
        "one_click_unsubscribe_url": unsubscribe,
    }
    response = _response(event, content, root, sanitised_content=sanitised)
    return Accepted(event, response, smoke_test)


def _letter_key_rules(service: dict[str, Any], key: Any) -> None:
    if key.key_type == "team":
        raise bad_request("Cannot send letters with a team api key", status_code=403)
    if service["restricted"] and key.key_type != "test":
        raise bad_request("Cannot send letters when service is in trial mode", status_code=403)


def check_precompiled_letter(body: dict[str, Any], *, service: dict[str, Any], key: Any) -> bytes:
    """The checks of a precompiled letter before it is stored (public-api.md §5.4): key rules, then base64."""
    if CHANNEL_PERMISSION["letter"] not in service["permissions"]:
        raise bad_request(NOT_ALLOWED["letter"])
    _letter_key_rules(service, key)
    try:
        pdf = base64.b64decode(body["content"], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise bad_request("Cannot decode letter content (invalid base64 encoding)") from exc
    if not pdf:  # "" is valid base64 of nothing: refused here, not by delivery-letter's store (it was a 503)
        raise bad_request("Letter content is empty")
    return pdf


PROVIDED_AS_PDF = "Provided as PDF"


def prepare_precompiled_letter(
    *, body: dict[str, Any], service: dict[str, Any], key: Any, template: dict[str, Any]
) -> Accepted:
    """A precompiled letter, already checked by :func:`check_precompiled_letter` (public-api.md §5.4).

    Its address is read from the PDF later, by delivery-letter; until then the recipient is the placeholder the
    public API shows as ``line_1``. The response is only the id, the reference and the postage.
    """
    refuse_unstorable(body)
    postage = body.get("postage") or "second"
    event = _event(
        "letter",
        request={"reference": body.get("reference"), "personalisation": {"address_line_1": PROVIDED_AS_PDF}},
        service=service,
        key=key,
        template=template,
        recipient=PROVIDED_AS_PDF,
        normalised_recipient="",
        body="",
        subject=None,
        postage=postage,
        precompiled=True,
    )
    response = {"id": str(event.notification_id), "reference": event.client_reference, "postage": postage}
    return Accepted(event, response, smoke_test=False)


def prepare_letter(
    *, body: dict[str, Any], service: dict[str, Any], key: Any, template: dict[str, Any] | None, root: str
) -> Accepted:
    """A templated letter (public-api.md §5.3): template checks, key and trial rules, then the address."""
    refuse_unstorable(body)
    if CHANNEL_PERMISSION["letter"] not in service["permissions"]:
        raise bad_request(NOT_ALLOWED["letter"])
    template = check_template(template, "letter")
    personalisation = body.get("personalisation") or {}
    try:
        rendered = LetterTemplate(
            template["subject"] or "", template["content"], template.get("letter_contact_block")
        ).render(personalisation)
    except QrCodeTooLong as exc:
        extra = {"data": exc.data, "num_bytes": exc.num_bytes, "max_bytes": exc.max_bytes}
        raise V2Error(400, "ValidationError", exc.message, extra) from exc
    except ContentError as exc:
        raise _content_error(exc) from exc
    files.reject_files(personalisation)
    _letter_key_rules(service, key)
    try:
        address = validate_address(
            personalisation, allow_international_letters="international_letters" in service["permissions"]
        )
    except InvalidRecipientError as exc:
        raise validation_error(exc.message) from exc
    postage = address.postage_zone if address.international else (template.get("postage") or "second")
    event = _event(
        "letter",
        request=body,
        service=service,
        key=key,
        template=template,
        recipient="\n".join(address.lines),
        normalised_recipient=address.as_single_line,
        body=rendered.body,
        subject=rendered.subject,
        postage=postage,
        address_lines=list(address.lines),
    )
    response = _response(event, {"body": rendered.body, "subject": rendered.subject}, root)
    return Accepted(event, response, smoke_test=False)
