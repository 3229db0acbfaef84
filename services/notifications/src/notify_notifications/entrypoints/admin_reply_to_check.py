"""``POST /service/{id}/email-reply-to/verify`` (admin-api.md §12.2): before adding a reply-to address, the admin
sends it a test email from the platform's own service and watches that notification's status."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter
from notify_content.errors import ContentError
from notify_content.recipients import validate_email_address
from pydantic import BaseModel
from sqlalchemy.engine import Connection

from ..adapters import platform_service
from .admin_api_keys import publish
from .admin_senders import REPLY_TO, clash
from .admin_services import load_service
from .deps import Ctx
from .errors import AdminError

router = APIRouter()


class VerifyReplyTo(BaseModel):
    email: str


@router.post("/service/{service_id}/email-reply-to/verify", status_code=201)
async def verify_reply_to(service_id: uuid.UUID, body: VerifyReplyTo, ctx: Ctx) -> dict[str, Any]:
    try:
        address = validate_email_address(body.email)
    except ContentError as exc:
        raise AdminError(400, {"email": ["Not a valid email address"]}) from exc
    platform = platform_service.for_settings(ctx.settings)
    notification_id = uuid.uuid4()

    def send(conn: Connection) -> None:
        service = load_service(conn, service_id)
        clash(conn, REPLY_TO, service_id, address.submitted, None)
        platform_service.ensure(conn, platform)
        request = platform_service.message(
            platform, "reply-to-check", address.submitted, {"service_name": service.name}
        )
        publish(conn, request.model_copy(update={"notification_id": notification_id}))

    await ctx.db.transaction(send)
    ctx.published()
    return {"data": {"id": str(notification_id)}}
