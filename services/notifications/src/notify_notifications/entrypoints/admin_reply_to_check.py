"""``POST /service/{id}/email-reply-to/verify`` (admin-api.md §12.2): before adding a reply-to address, the admin
sends it a test email from the platform's own service and watches that notification's status."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from notify_content.errors import ContentError
from notify_content.keys import insensitive
from notify_content.placeholders import fill
from notify_content.recipients import validate_email_address
from notify_contracts import NotificationRequestedV1
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
        content = fill(
            platform_service.REPLY_TO_CHECK_CONTENT,
            insensitive({"service_name": service.name}),
            list_style="bullets",
        )
        publish(
            conn,
            NotificationRequestedV1(
                notification_id=notification_id,
                service_id=platform.service_id,
                notification_type="email",
                template_id=platform.template_id("reply-to-check"),
                template_version=1,
                recipient=address.submitted,
                normalised_recipient=address.normalised,
                key_type="normal",
                created_at=datetime.now(UTC),
                body=content,
                subject=platform_service.REPLY_TO_CHECK_SUBJECT,
            ),
        )

    await ctx.db.transaction(send)
    ctx.published()
    return {"data": {"id": str(notification_id)}}
