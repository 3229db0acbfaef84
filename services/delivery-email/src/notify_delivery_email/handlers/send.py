"""delivery.email.requested → one message at the SMTP relay, recorded in the ledger, reported as ``sending``.

Exactly once: a batch first *claims* its notifications in the ledger (committed before any SMTP call). A
notification already ``sent`` or ``failed`` is skipped. One left ``claimed`` by a crash (the relay may or may not
have accepted it) is sent again: every message carries the deterministic ``Message-ID: <notification_id@domain>``
(the domain of its From address), so a receiver — and the dev sink's ``/stats`` — can recognise the duplicate.
SMTP has no way to ask a relay whether it already holds a message, so this is the best email allows.

The record of the send and the ``sending`` report are written in one transaction (outbox). A 5xx reply ends in
``technical-failure``; 4xx replies and connection problems raise, so the consumer's delay queues retry.

Test keys never reach SMTP ("research mode"): the outcome the simulated recipient calls for is reported at once.
Addresses, subjects and bodies are never logged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any, Protocol

from notify_content.email_body import render_parts
from notify_content.email_layout import wrap
from notify_content.recipients.simulated import research_mode_outcome
from notify_contracts import EmailDeliveryRequestedV1, Envelope
from notify_platform.db import Database
from notify_platform.logging import get_logger
from notify_platform.send_ledger import Outcome, SendLedger

from ..adapters.smtp import SmtpError
from ..adapters.tables import outbox as outbox_table
from ..adapters.tables import sends
from ..mime import POLICY

log = get_logger(__name__)
PRODUCER = "delivery-email"
PROVIDER = "smtp"
DEFAULT_MESSAGE_ID_DOMAIN = "notify.localhost"


class Mailer(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


def message_id(notification_id: Any, from_address: str) -> str:
    """``<notification_id@domain>``: the same for every attempt at one notification."""
    domain = from_address.rpartition("@")[2].strip() or DEFAULT_MESSAGE_ID_DOMAIN
    return f"<{notification_id}@{domain}>"


def _one_line(value: str) -> str:
    return " ".join(value.splitlines()).strip()


def build_message(request: EmailDeliveryRequestedV1) -> EmailMessage:
    """multipart/alternative: the text part and the HTML part, both rendered from the markdown ``body``."""
    html_body, text = render_parts(request.body)
    subject = _one_line(request.subject)
    message = EmailMessage(policy=POLICY)
    message["From"] = request.from_address
    message["To"] = request.to
    message["Subject"] = subject
    if request.reply_to:
        message["Reply-To"] = request.reply_to
    message["Message-ID"] = message_id(request.notification_id, request.from_address)
    message["Date"] = datetime.now(
        UTC
    )  # the header formats it (email.utils.format_datetime), without a re-parse
    if request.one_click_unsubscribe_url:
        message["List-Unsubscribe"] = f"<{_one_line(request.one_click_unsubscribe_url)}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(text)
    message.add_alternative(wrap(html_body, subject=subject), subtype="html")
    return message


class EmailSender:
    def __init__(self, db: Database, mailer: Mailer, *, concurrency: int = 50) -> None:
        self.ledger = SendLedger(db, sends, outbox_table, producer=PRODUCER)
        self.mailer = mailer
        self._limit = asyncio.Semaphore(concurrency)

    async def handle(self, batch: Sequence[Envelope[Any]]) -> int:
        """Deliver a batch. Raises (so the consumer retries) only for retryable SMTP errors."""
        return await self.ledger.handle(batch, lambda env, resumed: self._deliver(env, resumed=resumed))

    async def _deliver(self, env: Envelope[Any], *, resumed: bool) -> Outcome:
        request: EmailDeliveryRequestedV1 = env.payload
        nid = str(request.notification_id)
        now = datetime.now(UTC)
        if request.key_type == "test":
            final = research_mode_outcome("email", request.to)
            return Outcome(env, "research", f"research-{nid}", now, ("sending", final))
        try:
            message = build_message(request)
        except (ValueError, TypeError) as exc:  # e.g. an address the email package cannot put in a header
            log.error("delivery.email.unbuildable", notification_id=nid, error=type(exc).__name__)
            return Outcome(
                env, PROVIDER, None, None, ("technical-failure",), detail="message could not be built"
            )
        reference = str(message["Message-ID"])
        if resumed:
            log.warning("delivery.email.resumed_after_crash", notification_id=nid)
        async with self._limit:
            try:
                await self.mailer.send(message)
            except SmtpError as exc:
                if exc.retryable:
                    log.warning("delivery.email.smtp_error", notification_id=nid, error=str(exc))
                    raise
                log.error("delivery.email.refused", notification_id=nid, error=str(exc))
                return Outcome(env, PROVIDER, None, None, ("technical-failure",), detail=str(exc)[:200])
        log.info("delivery.email.sent", notification_id=nid, correlation_id=env.correlation_id)
        return Outcome(env, PROVIDER, reference, datetime.now(UTC), ("sending",))


async def give_up(db: Database, envelope: Envelope[Any], reason: str) -> None:
    """Every retry failed: the notification ends ``technical-failure`` unless it was sent after all."""
    await SendLedger(db, sends, outbox_table, producer=PRODUCER).give_up(envelope, reason)
    log.error("delivery.email.gave_up", notification_id=str(envelope.payload.notification_id))
