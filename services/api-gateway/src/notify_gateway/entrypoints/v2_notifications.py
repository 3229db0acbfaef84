"""``/v2/notifications``: send SMS, email and letters; read one notification and a letter's PDF."""

from __future__ import annotations

import asyncio
import functools
import uuid
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import ORJSONResponse, Response
from notify_contracts import new_envelope
from notify_platform.broker import BrokerUnavailable
from notify_platform.daily_limits import DailyLimitExceeded, counts_towards_daily_limits
from notify_platform.logging import current_correlation_id, get_logger

from ..adapters.internal_client import InternalUnavailable
from ..adapters.letters_client import PdfTooLarge
from ..domain.errors import V2Error, bad_request, not_found, unavailable, validation_error
from ..domain.presenters import notification_body
from ..domain.send_models import (
    GET_ONE_ERRORS,
    LETTER_ERRORS,
    PDF_ERRORS,
    SEND_ERRORS,
    EmailRequest,
    EmailResponse,
    LetterResponse,
    Notification,
    SmsRequest,
    SmsResponse,
    letter_request_body,
    request_body,
)
from ..domain.sending import (
    Accepted,
    check_precompiled_letter,
    prepare_email,
    prepare_letter,
    prepare_precompiled_letter,
    prepare_sms,
)
from ..ratelimit import rate_limit_message
from ..validation import ValidationFailed, validate
from .bodies import read_limited
from .deps import Auth, Ctx

log = get_logger(__name__)
router = APIRouter(prefix="/v2/notifications", tags=["notifications"])


async def _json_body(request: Request, limit: int) -> dict[str, Any]:
    raw = await read_limited(request, limit)
    try:
        data = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError as exc:
        raise bad_request("Invalid JSON supplied in POST data") from exc
    if raw and data is None:
        return {}
    if data is None:
        raise bad_request("Invalid JSON supplied in POST data")
    return data  # type: ignore[no-any-return]


async def check_limits(ctx: Ctx, caller: Auth, channel: str) -> None:
    """Step 1 of every send: the per-minute rate limit, then the channel's daily limit (test keys never count),
    in one Redis round trip (the limiter reads the daily counter as it takes its token)."""
    counted = caller.key.key_type != "test"
    limit_today = caller.service["limits"][channel]
    if ctx.settings.rate_limit_enabled:
        limit = int(caller.service.get("rate_limit") or 3000)
        counter = ctx.daily_limits.counter_key(caller.service_id, channel) if counted else None
        allowed, count = await ctx.limiter.admit(
            caller.service_id, caller.key.key_type, limit, read_counter=counter
        )
        if not allowed:
            raise V2Error(429, "RateLimitError", rate_limit_message(caller.key.key_type, limit))
        if counted:
            try:
                ctx.daily_limits.check_count(channel, limit_today, count)
            except DailyLimitExceeded as exc:
                raise V2Error(429, exc.error, exc.message) from exc
        return
    if counted:
        try:
            await ctx.daily_limits.check(caller.service_id, channel, limit_today)
        except DailyLimitExceeded as exc:
            raise V2Error(429, exc.error, exc.message) from exc


def _validate(schema: str, body: object) -> None:
    try:
        validate(schema, body)
    except ValidationFailed as exc:
        raise validation_error(*exc.messages) from exc


async def accept(ctx: Ctx, caller: Auth, accepted: Accepted) -> ORJSONResponse:
    event = accepted.event
    limits = caller.service["limits"]
    counted = counts_towards_daily_limits(caller.key.key_type, smoke_test=accepted.smoke_test)
    if counted and event.international:
        # The international sub-limit belongs to the recipient checks; it is read here, once they all passed.
        try:
            await ctx.daily_limits.check_international(caller.service_id, limits["international_sms"])
        except DailyLimitExceeded as exc:
            raise V2Error(429, exc.error, exc.message) from exc
    if accepted.smoke_test:
        return ORJSONResponse(accepted.response, status_code=201)
    remembered = _accepted_key(ctx, event.service_id, event.notification_id), _record(accepted)
    reservation = None
    if counted:
        try:
            # The accepted record is stored in the same Redis exchange as the reservation (and removed with it).
            reservation = await ctx.daily_limits.reserve(
                caller.service_id,
                event.notification_type,
                limits[event.notification_type],
                international_limit=limits["international_sms"] if event.international else None,
                store=(*remembered, ctx.settings.accepted_window_seconds),
            )
        except DailyLimitExceeded as exc:
            raise V2Error(429, exc.error, exc.message) from exc
    envelope = new_envelope(
        event, producer="api-gateway", correlation_id=current_correlation_id() or str(uuid.uuid4())
    )
    try:
        await ctx.broker.publish(envelope)
    except BrokerUnavailable as exc:
        log.error("api.publish_failed", notification_id=str(event.notification_id), error=str(exc))
        if reservation is not None:
            await ctx.daily_limits.release(reservation)
        raise unavailable() from exc
    if reservation is None or not reservation.counted:
        await _remember(ctx, *remembered)
    log.info(
        "api.notification_accepted",
        notification_id=str(accepted.event.notification_id),
        service_id=str(caller.service_id),
        notification_type=accepted.event.notification_type,
        key_type=caller.key.key_type,
    )
    return ORJSONResponse(accepted.response, status_code=201)


def _accepted_key(ctx: Ctx, service_id: uuid.UUID, notification_id: uuid.UUID) -> str:
    return f"{ctx.settings.redis_prefix}accepted:{service_id}:{notification_id}"


def _record(accepted: Accepted) -> bytes:
    """The accepted notification as kept in Redis briefly, so a GET right after the 201 finds it (best effort)."""
    e = accepted.event
    return orjson.dumps(
        {
            "id": str(e.notification_id),
            "service_id": str(e.service_id),
            "template_id": str(e.template_id),
            "template_version": e.template_version,
            "notification_type": e.notification_type,
            "key_type": e.key_type,
            "recipient": e.recipient,
            "personalisation": e.personalisation,
            "client_reference": e.client_reference,
            "status": "pending-virus-check" if e.precompiled else "created",
            "body": e.body,
            "subject": e.subject,
            "postage": e.postage,
            "billable_units": 0,
            "one_click_unsubscribe_url": e.one_click_unsubscribe_url,
            "created_at": e.created_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "sent_at": None,
            "updated_at": None,
            "completed_at": None,
        }
    )


async def _remember(ctx: Ctx, key: str, record: bytes) -> None:
    """Store the accepted record when no counted reservation stored it (test keys; Redis failing open)."""
    try:
        await ctx.redis.set(key, record, ex=ctx.settings.accepted_window_seconds)
    except Exception as exc:  # Redis down: the GET falls back to the database once the row is stored
        log.warning("api.accepted_cache_unavailable", error=type(exc).__name__)


async def _knowing_sender(ctx: Ctx, caller: Auth, sender_id: Any, senders: str) -> dict[str, Any]:
    """The caller's service record; read once more, fresh, when the request names a sender (``sms_senders`` or
    ``email_reply_to``) the cached record does not have, so one added a moment ago works at once, as a new key does.
    A sender that really is unknown costs one indexed read, like a token naming an unknown key."""
    if not sender_id or any(s.get("id") == sender_id for s in caller.service.get(senders, [])):
        return caller.service
    try:
        fresh = await ctx.notifications.service(caller.service_id, fresh=True)
    except InternalUnavailable as exc:
        raise unavailable() from exc
    return fresh if fresh is not None else caller.service


async def _template(ctx: Ctx, caller: Auth, template_id: str) -> dict[str, Any] | None:
    try:
        return await ctx.notifications.template(caller.service_id, uuid.UUID(template_id))
    except InternalUnavailable as exc:
        raise unavailable() from exc


@router.post(
    "/sms",
    status_code=201,
    response_model=SmsResponse,
    response_description="Accepted: the notification is queued for delivery",
    responses=SEND_ERRORS,
    summary="Send a text message",
    openapi_extra=request_body(SmsRequest),
)
async def send_sms(request: Request, ctx: Ctx, caller: Auth) -> ORJSONResponse:
    await check_limits(ctx, caller, "sms")
    body = await _json_body(request, ctx.settings.max_json_body_bytes)
    _validate("post_sms", body)
    template = await _template(ctx, caller, body["template_id"])
    service = await _knowing_sender(ctx, caller, body.get("sms_sender_id"), "sms_senders")
    accepted = prepare_sms(
        body=body, service=service, key=caller.key, template=template, root=str(request.base_url)
    )
    return await accept(ctx, caller, accepted)


@router.post(
    "/email",
    status_code=201,
    response_model=EmailResponse,
    response_description="Accepted: the notification is queued for delivery",
    responses=SEND_ERRORS,
    summary="Send an email",
    openapi_extra=request_body(EmailRequest),
)
async def send_email(request: Request, ctx: Ctx, caller: Auth) -> ORJSONResponse:
    await check_limits(ctx, caller, "email")
    body = await _json_body(request, ctx.settings.max_json_body_bytes)
    _validate("post_email", body)
    template = await _template(ctx, caller, body["template_id"])
    prepare = functools.partial(
        prepare_email,
        body=body,
        service=await _knowing_sender(ctx, caller, body.get("email_reply_to_id"), "email_reply_to"),
        key=caller.key,
        template=template,
        root=str(request.base_url),
        email_domain=ctx.settings.email_domain,
        document_store=ctx.document_store,
    )
    # Storing attached files is blocking I/O: keep it off the event loop.
    has_files = any(isinstance(v, dict) and "file" in v for v in (body.get("personalisation") or {}).values())
    accepted = await asyncio.to_thread(prepare) if has_files else prepare()
    return await accept(ctx, caller, accepted)


@router.post(
    "/letter",
    status_code=201,
    response_model=LetterResponse,
    response_description="Accepted: the notification is queued for delivery",
    responses=LETTER_ERRORS,
    summary="Send a letter (templated, or precompiled when the body has a `content` key)",
    openapi_extra=letter_request_body(),
)
async def send_letter(request: Request, ctx: Ctx, caller: Auth) -> ORJSONResponse:
    await check_limits(ctx, caller, "letter")
    body = await _json_body(request, ctx.settings.max_json_body_bytes)
    if isinstance(body, dict) and "content" in body:
        _validate("post_precompiled_letter", body)
        pdf = check_precompiled_letter(body, service=caller.service, key=caller.key)
        try:
            template = await ctx.notifications.precompiled_template(caller.service_id)
        except InternalUnavailable as exc:
            raise unavailable() from exc
        if template is None:
            raise not_found()
        accepted = prepare_precompiled_letter(
            body=body, service=caller.service, key=caller.key, template=template
        )
        # The PDF is stored before the letter is announced, so whoever handles the letter finds it.
        try:
            await ctx.letters.upload_pdf(caller.service_id, accepted.event.notification_id, pdf)
        except PdfTooLarge as exc:
            raise V2Error(413, "BadRequestError", "Letter content is too large") from exc
        except InternalUnavailable as exc:
            raise unavailable() from exc
        return await accept(ctx, caller, accepted)
    _validate("post_letter", body)
    template = await _template(ctx, caller, body["template_id"])
    accepted = prepare_letter(
        body=body, service=caller.service, key=caller.key, template=template, root=str(request.base_url)
    )
    return await accept(ctx, caller, accepted)


@router.get(
    "/{notification_id}/pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "The letter's PDF"}, **PDF_ERRORS},
    summary="Get the PDF of a letter",
)
async def get_letter_pdf(notification_id: str, ctx: Ctx, caller: Auth) -> Response:
    nid = _notification_id(notification_id)
    record = await _find(ctx, caller, nid)
    status = record["status"]
    if record["notification_type"] != "letter":
        raise bad_request("Notification is not a letter")
    if status == "virus-scan-failed":
        raise bad_request("File did not pass the virus scan")
    if status == "technical-failure":
        raise bad_request("PDF not available for letters in status technical-failure")
    pdf = None
    if status != "pending-virus-check":
        try:
            pdf = await ctx.letters.pdf(caller.service_id, nid)
        except InternalUnavailable as exc:
            raise unavailable() from exc
    if pdf is None:
        raise V2Error(400, "PDFNotReadyError", "PDF not available yet, try again later")
    return Response(pdf, media_type="application/pdf")


@router.get(
    "/{notification_id}",
    response_model=Notification,
    responses=GET_ONE_ERRORS,
    summary="Get one notification",
)
async def get_notification(notification_id: str, request: Request, ctx: Ctx, caller: Auth) -> ORJSONResponse:
    record = await _find(ctx, caller, _notification_id(notification_id))
    return ORJSONResponse(notification_body(record, str(request.base_url)))


def _notification_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise validation_error("notification_id is not a valid UUID") from exc


async def _find(ctx: Ctx, caller: Auth, nid: uuid.UUID) -> dict[str, Any]:
    """The stored notification, or (read-your-writes) the one just accepted and not stored yet; else 404."""
    try:
        record = await ctx.notifications.notification(caller.service_id, nid)
    except InternalUnavailable as exc:
        raise unavailable() from exc
    if record is None:
        try:
            cached = await ctx.redis.get(_accepted_key(ctx, caller.service_id, nid))
        except Exception:
            cached = None
        if cached is None:
            raise not_found()
        record = orjson.loads(cached)
    return record
