"""Texts people send to the platform's inbound numbers (behaviour.md §12), POSTed by each provider in its own format.

Authenticated like that provider's receipts, parsed by its adapter, and announced as ``sms.received`` through the
outbox (written and committed before the provider is answered 200, so an accepted text is never lost). Which
service owns the number is for notifications to decide: a text to an unknown number is still answered 200 here.

The event's ``inbound_id`` is derived from the provider and its message id (for a report without one, from what it
reported), so a provider sending the same report again announces the same id and notifications stores it once.
Numbers and message text are never logged.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from notify_contracts import SmsReceivedV1, new_envelope
from notify_platform import outbox
from notify_platform.logging import current_correlation_id, get_logger

from ..adapters.tables import outbox as outbox_table
from ..providers.base import InboundText
from ..providers.wire import INBOUND_PATH

log = get_logger(__name__)
router = APIRouter()
PRODUCER = "delivery-sms"
# Namespace of the inbound ids minted here (uuid5 of "<provider>:<message id>").
INBOUND_NAMESPACE = uuid.UUID("33fd704c-866f-423d-8b52-39907229a5a1")


# The longest values notifications stores (inbound_sms columns); a longer report is refused with a 400.
LIMITS = {"provider_reference": 255, "source_number": 50, "destination_number": 50, "message": 5000}


def inbound_id(provider: str, text: InboundText) -> uuid.UUID:
    """The same for every delivery of one report: from the provider's message id, or (a provider that sends none)
    from everything the report says."""
    if text.provider_reference:
        return uuid.uuid5(INBOUND_NAMESPACE, f"{provider}:{text.provider_reference}")
    received = text.received_at.isoformat() if text.received_at else ""
    digest = hashlib.sha256(
        "\0".join((text.source_number, text.destination_number, received, text.message)).encode()
    ).hexdigest()
    return uuid.uuid5(INBOUND_NAMESPACE, f"{provider}:sha256:{digest}")


def received_event(provider: str, text: InboundText, *, now: datetime | None = None) -> SmsReceivedV1:
    return SmsReceivedV1(
        inbound_id=inbound_id(provider, text),
        provider=provider,
        provider_reference=text.provider_reference,
        destination_number=text.destination_number,
        source_number=text.source_number,
        message=text.message,
        received_at=text.received_at or now or datetime.now(UTC),
    )


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"result": "error", "message": message}, status_code=status)


async def receive(request: Request) -> JSONResponse:
    provider_name = request.path_params["provider_name"]
    ctx = request.app.state.context
    provider = ctx.pool.providers.get(provider_name)
    if provider is None:
        return _error(404, "Unknown provider")
    if not provider.receipt_authorised(request.headers):
        log.warning("delivery.sms.inbound_unauthorised", provider=provider_name)
        return _error(401, "Unauthorized")
    try:
        text = provider.parse_inbound(await request.body(), request.headers.get("content-type", ""))
    except ValueError as exc:
        # The parsers' messages name fields only, never their values.
        log.warning("delivery.sms.inbound_malformed", provider=provider_name, error=str(exc)[:200])
        return _error(400, str(exc)[:200])
    if too_long := sorted(name for name, limit in LIMITS.items() if len(getattr(text, name) or "") > limit):
        # Refused now rather than failing where it is stored (notifications' columns); field names only.
        fields = ", ".join(too_long)
        log.warning("delivery.sms.inbound_malformed", provider=provider_name, error=f"too long: {fields}")
        return _error(400, f"{provider_name} inbound text has a value too long: {fields}")
    event = received_event(provider_name, text)
    envelope = new_envelope(
        event, producer=PRODUCER, correlation_id=current_correlation_id() or str(uuid.uuid4())
    )
    await ctx.db.transaction(lambda conn: outbox.write(conn, outbox_table, [envelope]))
    ctx.relay.wake()
    log.info(
        "delivery.sms.inbound_received",
        provider=provider_name,
        inbound_id=str(event.inbound_id),
        has_reference=text.provider_reference is not None,
    )
    return JSONResponse({"status": "ok"}, status_code=200)


# A plain Starlette route like the receipts' (providers' callbacks are not part of the documented API).
router.add_route(
    INBOUND_PATH.replace("{provider}", "{provider_name}"), receive, methods=["POST"], include_in_schema=False
)
