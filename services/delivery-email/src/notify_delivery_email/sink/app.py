"""The SMTP sink: an aiosmtpd server and a small HTTP app (``/stats``, ``/health``) on one event loop.

Everything received is kept in memory, as received (parsed only when ``/messages/{reference}`` asks for it), and
counted by reference: the notification id taken from the deterministic ``Message-ID: <notification_id@domain>``
delivery-email sets (so a resend after a crash shows up in ``duplicates``); only the header block is read for it.
Receipts follow the local part of the SMTP envelope's recipients (RCPT TO): ``perm-fail@`` → permanent bounce,
``temp-fail@`` → temporary bounce, ``complaint@`` → delivered and then a complaint, anything else → delivered. They
are POSTed in order, with a bearer token, by a few workers sharing one kept-alive HTTP client (``receipts``), and
retried with exponential backoff while the receiver is down. Some local parts are refused at the SMTP level instead
(see :func:`smtp_refusal`), counted in ``refused_by_reference``. Nothing personal is logged: aiosmtpd's own log,
which echoes every command (addresses included), is kept to warnings.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from typing import Any

import orjson
import structlog
from aiosmtpd.smtp import SMTP, Envelope, Session
from fastapi import FastAPI
from fastapi.responses import Response

from .receipts import receipt_bodies, receipt_poster, schedule_receipts
from .settings import SinkSettings

log = structlog.get_logger("notify_delivery_email.sink")


def outcome_for(address: str) -> str:
    local = address.strip().lower()
    if local.startswith("perm-fail@"):
        return "permanent-bounce"
    if local.startswith("temp-fail@"):
        return "temporary-bounce"
    if local.startswith("complaint@"):
        return "complaint"
    return "delivered"


def smtp_refusal(address: str, attempts_so_far: int) -> str | None:
    """The SMTP reply that refuses this message at DATA, or None to accept it.

    ``smtp-busy-<n>@`` → ``451`` for the first n attempts, then accepted (retry then success); ``smtp-down@`` →
    always ``451`` (retries run out); ``smtp-reject@`` → ``554`` (a permanent refusal: never retried).
    """
    local = address.strip().lower()
    if local.startswith("smtp-down@"):
        return "451 4.3.0 Mail server temporarily unavailable"
    if local.startswith("smtp-reject@"):
        return "554 5.7.1 Message rejected"
    if local.startswith("smtp-busy-"):
        count = local.removeprefix("smtp-busy-").partition("@")[0]
        if count.isdigit() and attempts_so_far < int(count):
            return "451 4.3.0 Busy, try again later"
    return None


_HEADERS = BytesHeaderParser(policy=email.policy.compat32)


def message_id_of(data: bytes) -> str:
    """The Message-ID header of a message as received (unfolded, stripped), from its header block alone."""
    head = data.partition(b"\r\n\r\n")[0]
    value = _HEADERS.parsebytes(head).get("Message-ID")
    # Unfolded as the email package's default policy does; a long Message-ID is folded onto its own line.
    return "".join(str(value or "").splitlines()).strip()


def reference_for(message_id: str) -> str:
    """``<nid@domain>`` → ``nid`` (the whole Message-ID when it has another shape)."""
    inner = message_id.strip().removeprefix("<").removesuffix(">")
    local, at, _ = inner.rpartition("@")
    return local if at and local else inner


class SinkState:
    """Everything the sink remembers: in memory, one event loop, no locking needed."""

    def __init__(self, settings: SinkSettings) -> None:
        self.settings = settings
        self.receipts = receipt_poster(settings)
        self.smtp_port: int | None = None
        self.reset()

    def reset(self) -> None:
        self.total = 0
        self.by_reference: dict[str, int] = {}
        self.messages: dict[str, bytes] = {}  # reference -> the last message received with it, as received
        self.refused_by_reference: dict[str, int] = {}  # attempts answered with an SMTP error

    def stats(self) -> dict[str, object]:
        return {
            "total": self.total,
            "by_reference": self.by_reference,
            "duplicates": [ref for ref, count in self.by_reference.items() if count > 1],
            "refused_by_reference": self.refused_by_reference,
            "receipts": self.receipts.counters.as_dict(),
        }

    def receive(self, recipients: list[str], data: bytes) -> str:
        """Take one message: the SMTP reply, a refusal (counted apart) or ``250``. The recipients are the SMTP
        envelope's; only the header block is read (for the Message-ID), the rest is kept as received."""
        message_id = message_id_of(data)
        refusal = self._refusal(recipients, reference_for(message_id))
        if refusal is not None:
            return refusal
        self._accept(recipients, data, message_id)
        return "250 Message accepted for delivery"

    def _refusal(self, recipients: list[str], reference: str) -> str | None:
        attempts = self.refused_by_reference.get(reference, 0)
        for recipient in recipients:
            reply = smtp_refusal(recipient, attempts)
            if reply is not None:
                self.refused_by_reference[reference] = attempts + 1
                log.info("email_sink_refused", reference=reference, reply=reply[:3], attempt=attempts + 1)
                return reply
        return None

    def _accept(self, recipients: list[str], data: bytes, message_id: str) -> None:
        reference = reference_for(message_id) if message_id else f"no-message-id-{self.total + 1}"
        self.total += 1
        self.by_reference[reference] = self.by_reference.get(reference, 0) + 1
        self.messages[reference] = data
        if message_id:
            for recipient in recipients:
                schedule_receipts(
                    self.receipts, reference, receipt_bodies(message_id, outcome_for(recipient))
                )
        log.debug("email_sink_received", reference=reference, sends=self.by_reference[reference])


class SinkHandler:
    """aiosmtpd handler: every message is handed to the state, which answers it."""

    def __init__(self, state: SinkState) -> None:
        self.state = state

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or envelope.content
        raw = data if isinstance(data, bytes) else str(data).encode()
        return self.state.receive(list(envelope.rcpt_tos), raw)


async def start_smtp(handler: Any, host: str, port: int) -> asyncio.Server:
    """An aiosmtpd server on the running loop (port 0: any free port)."""
    # aiosmtpd logs every command line at INFO, senders' and recipients' addresses included.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: SMTP(handler, hostname="notify-email-sink", enable_SMTPUTF8=True), host=host, port=port
    )


def _json(status_code: int, payload: object) -> Response:
    return Response(content=orjson.dumps(payload), status_code=status_code, media_type="application/json")


def _message_view(data: bytes) -> dict[str, Any]:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    parts = {
        part.get_content_type(): part.get_content()
        for part in message.walk()
        if not part.is_multipart() and part.get_content_type() in ("text/plain", "text/html")
    }
    return {"headers": dict(message.items()), "content_type": message.get_content_type(), "parts": parts}


def create_app(settings: SinkSettings) -> FastAPI:
    state = SinkState(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        server = await start_smtp(SinkHandler(state), settings.host, settings.smtp_port)
        state.smtp_port = server.sockets[0].getsockname()[1]
        state.receipts.start()
        log.info("email_sink_started", smtp_port=state.smtp_port, receipts=state.receipts.enabled)
        try:
            yield
        finally:
            server.close()
            await server.wait_closed()
            await state.receipts.aclose()
            log.info("email_sink_stopped", total=state.total, receipts=state.receipts.counters.as_dict())

    app = FastAPI(title="SMTP sink", lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None)
    app.state.sink = state

    @app.get("/stats")
    async def get_stats() -> Response:
        return _json(200, state.stats())

    @app.delete("/stats")
    async def reset_stats() -> Response:
        state.reset()
        return _json(200, {"total": 0, "by_reference": {}, "duplicates": []})

    @app.get("/messages/{reference}")
    async def get_message(reference: str) -> Response:
        data = state.messages.get(reference)
        if data is None:
            return _json(404, {"error": "not found"})
        return _json(200, _message_view(data))

    @app.get("/health")
    async def health() -> Response:
        return _json(200, {"status": "ok", "smtp_port": state.smtp_port})

    return app


def main() -> None:
    import uvicorn

    settings = SinkSettings()
    try:
        from notify_platform.logging import configure

        configure("email-sink", settings.log_level)
    except ImportError:  # pragma: no cover - the platform package is a dependency of this service
        pass
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        log_level=settings.log_level.lower(),
    )
