"""``POST /service/{service_id}/send-notification`` (admin-api.md §10, seed 000's ``send_notification``): a one-off
send from the admin app. It is answered here rather than forwarded, so that it takes exactly the public API's send
path: the same recipient, template and content checks (``domain.sending``), the same daily limits, the same
confirmed publish of ``notification.requested``. The channel comes from the template; the key type is ``normal``;
the notification records who sent it (``created_by``), who must be a member of the service."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ..adapters.internal_client import InternalUnavailable
from ..auth import ApiKeyRecord, AuthError
from ..domain.errors import V2Error
from ..domain.sending import prepare_email, prepare_letter, prepare_sms
from .admin_proxy import admin_auth_error, check_admin
from .deps import Caller, context_of
from .v2_notifications import accept, check_limits

router = APIRouter(include_in_schema=False)
ONE_OFF_KEY = ApiKeyRecord(id=None, secret="", key_type="normal", expiry_date=None)  # type: ignore[arg-type]
RECIPIENT_FIELD = {"sms": "phone_number", "email": "email_address"}
SENDER_FIELD = {"sms": "sms_sender_id", "email": "email_reply_to_id"}
SENDER_MISSING = {"sms": "SMS sender not found", "email": "Reply to email address not found"}


class Refused(Exception):
    """An admin request refused with ``message`` (text or ``{field: [messages]}``) in the admin error envelope."""

    def __init__(self, status: int, message: Any) -> None:
        self.status = status
        self.message = message


def admin_error(status: int, message: Any) -> JSONResponse:
    return JSONResponse({"result": "error", "message": message}, status_code=status)


async def service_and_member(
    ctx: Any, service_id: uuid.UUID, created_by: Any, *, active: bool = False
) -> dict[str, Any]:
    """The service, read fresh (404 if unknown; 403 if ``active`` is asked and it is not), with ``created_by``
    (if given) one of its team members (400 otherwise)."""
    service = await ctx.notifications.service(service_id, fresh=True)
    if service is None:
        raise Refused(404, "No result found")
    if active and not service["active"]:
        raise Refused(403, "Service is not active")
    if created_by is not None and not any(m.get("id") == str(created_by) for m in service["team_members"]):
        raise Refused(
            400, f'Can’t create notification - {created_by} is not part of the "{service["name"]}" service'
        )
    return service  # type: ignore[no-any-return]


def _body(raw: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        raise V2Error(400, "BadRequestError", "Invalid JSON supplied in POST data")
    missing = [f for f in ("template_id", "to", "created_by") if not data.get(f)]
    if missing:
        raise Refused(400, {f: ["Missing data for required field."] for f in missing})
    for field in ("template_id", "created_by", "sender_id"):
        if data.get(field) is not None:
            try:
                uuid.UUID(str(data[field]))
            except ValueError as exc:
                raise Refused(400, {field: ["Not a valid UUID."]}) from exc
    if not isinstance(data.get("personalisation") or {}, dict):
        raise Refused(400, {"personalisation": ["Not a valid mapping type."]})
    return data


def _v2_body(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    personalisation = dict(data.get("personalisation") or {})
    body: dict[str, Any] = {"template_id": str(data["template_id"]), "personalisation": personalisation}
    if kind == "letter":
        # A letter's address is in its personalisation; its client reference is the ``reference`` value, if any.
        if personalisation.get("reference"):
            body["reference"] = str(personalisation["reference"])
        return body
    body[RECIPIENT_FIELD[kind]] = str(data["to"])
    if data.get("sender_id"):
        body[SENDER_FIELD[kind]] = str(data["sender_id"])
    return body


@router.post("/service/{service_id}/send-notification", status_code=201)
async def send_one_off(service_id: str, request: Request) -> JSONResponse:
    ctx = context_of(request)
    try:
        check_admin(request, ctx)
    except AuthError as exc:
        return admin_auth_error(exc)
    try:
        sid = uuid.UUID(service_id)
    except ValueError:
        return admin_error(404, "No result found")
    try:
        data = _body(await request.body())
        service = await service_and_member(ctx, sid, data["created_by"], active=True)
        template = await ctx.notifications.template(sid, uuid.UUID(str(data["template_id"])))
        if template is None or template.get("hidden"):
            return admin_error(404, "No result found")
        kind = template["template_type"]
        caller = Caller(service=service, key=ONE_OFF_KEY)
        await check_limits(ctx, caller, kind)
        body = _v2_body(kind, data)
        root = str(request.base_url)
        try:
            if kind == "sms":
                accepted = prepare_sms(
                    body=body, service=service, key=ONE_OFF_KEY, template=template, root=root
                )
            elif kind == "email":
                accepted = prepare_email(
                    body=body,
                    service=service,
                    key=ONE_OFF_KEY,
                    template=template,
                    root=root,
                    email_domain=ctx.settings.email_domain,
                    document_store=ctx.document_store,
                )
            else:
                accepted = prepare_letter(
                    body=body, service=service, key=ONE_OFF_KEY, template=template, root=root
                )
        except V2Error as exc:
            message = exc.messages[0] if exc.messages else exc.error
            if data.get("sender_id") and "does not exist in database" in str(message):
                message = SENDER_MISSING.get(kind, message)
            raise V2Error(exc.status_code, exc.error, message) from exc
        event = accepted.event.model_copy(update={"created_by_id": uuid.UUID(str(data["created_by"]))})
        accepted = type(accepted)(event, accepted.response, accepted.smoke_test)
        await accept(ctx, caller, accepted)
    except Refused as exc:
        return admin_error(exc.status, exc.message)
    except V2Error as exc:
        # Admin routes answer errors in the admin envelope (admin-api.md §3), whatever raised them.
        return admin_error(exc.status_code, exc.messages[0] if len(exc.messages) == 1 else exc.messages)
    except InternalUnavailable:
        return admin_error(503, "Service temporarily unavailable")
    return JSONResponse({"id": str(event.notification_id)}, status_code=201)
