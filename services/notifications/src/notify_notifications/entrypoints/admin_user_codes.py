"""Sign-in codes for admin users (admin-api.md §5.2, seed 000's ``send_verify_code``): sent by text or email from
the platform's own service through the ordinary send path (a ``notification.requested`` event), single use,
expiring after 30 minutes. Codes and recipients are never logged."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Response
from notify_content.errors import ContentError
from notify_contracts import NotificationRequestedV1
from notify_platform.logging import get_logger
from pydantic import BaseModel
from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection

from ..adapters import platform_service
from ..adapters.tables import users, verify_codes
from ..domain.verify_codes import MAX_ACTIVE_CODES, MAX_FAILED_LOGINS, VALID_FOR, code_hash, new_sms_code
from .admin_api_keys import publish
from .deps import Ctx
from .errors import AdminError, not_found

router = APIRouter()
log = get_logger(__name__)


class SmsCode(BaseModel):
    to: str | None = None


class EmailCode(BaseModel):
    to: str | None = None
    email_auth_link_host: str | None = None
    next: str | None = None


class VerifyCode(BaseModel):
    code: str
    code_type: Literal["sms", "email"]


def _load_user(conn: Connection, user_id: uuid.UUID) -> Any:
    user = conn.execute(select(users).where(users.c.id == user_id).with_for_update()).first()
    if user is None:
        raise not_found()
    return user


def _too_many(conn: Connection, user_id: uuid.UUID, code_type: str, now: datetime) -> bool:
    active = conn.execute(
        select(func.count())
        .select_from(verify_codes)
        .where(
            verify_codes.c.user_id == user_id,
            verify_codes.c.code_type == code_type,
            verify_codes.c.code_used.is_(False),
            verify_codes.c.expiry_datetime > now,
        )
    ).scalar_one()
    return active >= MAX_ACTIVE_CODES


def _store_and_send(
    conn: Connection, ctx: Ctx, user_id: uuid.UUID, code: str, request: NotificationRequestedV1, now: datetime
) -> None:
    conn.execute(
        verify_codes.insert().values(
            id=uuid.uuid4(),
            user_id=user_id,
            code_hash=code_hash(ctx.settings.secret_keys[0], code),
            code_type=request.notification_type,
            expiry_datetime=now + VALID_FOR,
            created_at=now,
        )
    )
    platform_service.ensure(conn, platform_service.for_settings(ctx.settings))
    publish(conn, request)


async def _send_code(
    ctx: Ctx, user_id: uuid.UUID, kind: Literal["sms", "email"], code: str, build: Callable[[Any], Any]
) -> Response:
    """Send ``code`` to the user through the platform's own service (``build(user)`` makes the message), unless
    the user already has too many codes out; answered 204 either way, as Notify does."""

    def send(conn: Connection) -> bool:
        request = build(_load_user(conn, user_id))
        now = datetime.now(UTC)
        if _too_many(conn, user_id, kind, now):
            return False
        _store_and_send(conn, ctx, user_id, code, request, now)
        return True

    sent = await ctx.db.transaction(send)
    ctx.published()
    log.info(f"user.verify_code.{kind}", user_id=str(user_id), sent=sent)
    return Response(status_code=204)


@router.post("/user/{user_id}/sms-code", status_code=204)
async def send_sms_code(user_id: uuid.UUID, body: SmsCode, ctx: Ctx) -> Response:
    platform = platform_service.for_settings(ctx.settings)
    code = new_sms_code()

    def build(user: Any) -> Any:
        to = body.to or user.mobile_number
        if not to:
            raise AdminError(400, {"to": ["The user has no mobile number and none was given"]})
        try:
            return platform_service.message(platform, "sms", to, {"verify_code": code})
        except ContentError as exc:
            raise AdminError(400, {"to": [f"Invalid phone number: {exc.message}"]}) from exc

    return await _send_code(ctx, user_id, "sms", code, build)


@router.post("/user/{user_id}/email-code", status_code=204)
async def send_email_code(user_id: uuid.UUID, body: EmailCode, ctx: Ctx) -> Response:
    platform = platform_service.for_settings(ctx.settings)
    code = str(uuid.uuid4())
    host = (body.email_auth_link_host or ctx.settings.admin_base_url).rstrip("/")
    url = f"{host}/email-auth/{code}" + (f"?next={quote(body.next, safe='')}" if body.next else "")

    def build(user: Any) -> Any:
        try:
            return platform_service.message(
                platform, "email", body.to or user.email_address, {"name": user.name, "url": url}
            )
        except ContentError as exc:
            raise AdminError(400, {"to": ["Not a valid email address"]}) from exc

    return await _send_code(ctx, user_id, "email", code, build)


@router.post("/user/{user_id}/verify/code", status_code=204)
async def verify_code(user_id: uuid.UUID, body: VerifyCode, ctx: Ctx) -> Response:
    """Success starts a session (new ``current_session_id``) and uses the code up. Failures count against the
    user; after ``MAX_FAILED_LOGINS`` no code is found at all."""
    digest = code_hash(ctx.settings.secret_keys[0], body.code)

    def verify(conn: Connection) -> AdminError | None:
        user = _load_user(conn, user_id)
        if user.failed_login_count >= MAX_FAILED_LOGINS:
            return AdminError(404, "Code not found")
        now = datetime.now(UTC)
        found = conn.execute(
            select(verify_codes)
            .where(
                verify_codes.c.user_id == user_id,
                verify_codes.c.code_type == body.code_type,
                verify_codes.c.code_hash == digest,
            )
            .order_by(verify_codes.c.created_at.desc())
            .with_for_update()
        ).first()
        if found is None or found.code_used or found.expiry_datetime <= now:
            conn.execute(
                update(users)
                .where(users.c.id == user_id)
                .values(failed_login_count=users.c.failed_login_count + 1)
            )
            return AdminError(404, "Code not found") if found is None else AdminError(400, "Code has expired")
        conn.execute(update(verify_codes).where(verify_codes.c.id == found.id).values(code_used=True))
        signed_in: dict[str, Any] = {
            "current_session_id": uuid.uuid4(),
            "logged_in_at": now,
            "failed_login_count": 0,
        }
        if body.code_type == "email":
            signed_in["email_access_validated_at"] = now
        conn.execute(update(users).where(users.c.id == user_id).values(**signed_in))
        return None

    # The failed-login count must be committed even when the answer is an error, so the error is returned from
    # the transaction rather than raised inside it (which would roll the count back).
    refusal = await ctx.db.transaction(verify)
    log.info("user.verify_code.checked", user_id=str(user_id), code_type=body.code_type, ok=refusal is None)
    if refusal is not None:
        raise refusal
    return Response(status_code=204)
