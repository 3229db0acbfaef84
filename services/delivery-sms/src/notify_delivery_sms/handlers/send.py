"""delivery.sms.requested → one send at a provider, recorded in the ledger, reported as ``sending``.

Exactly once at the provider: a batch first *claims* its notifications in the ledger (committed before any
provider call). A notification already ``sent`` or ``failed`` is skipped; one left ``claimed`` by a crash is
looked up at the provider by its client reference before anything is sent again. The record of the send and the
``sending`` report are written in one transaction (outbox).

The provider is chosen per message by priority (``ProviderPool``; priorities move with ``handlers.failover``), and
every failed send is reported to failover so that a failing provider loses its share.

Test keys never reach a provider ("research mode"): the outcome the simulated recipient calls for is reported
straight away.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from notify_content.recipients.simulated import research_mode_outcome
from notify_contracts import Envelope, SmsDeliveryRequestedV1
from notify_platform.db import Database
from notify_platform.logging import get_logger
from notify_platform.send_ledger import Outcome, SendLedger

from ..adapters.tables import outbox as outbox_table
from ..adapters.tables import sends
from ..domain.priorities import ProviderPriority, choose
from ..providers import ProviderError, SmsProvider

log = get_logger(__name__)
PRODUCER = "delivery-sms"


class ProviderPool:
    """The provider adapters and this process's view of their priorities (kept fresh by ``Failover``)."""

    def __init__(
        self,
        providers: Mapping[str, SmsProvider],
        priorities: Iterable[ProviderPriority],
        *,
        rng: random.Random | None = None,
    ) -> None:
        self.providers = dict(providers)
        self.priorities: dict[str, ProviderPriority] = {}
        self.update({p.name: p for p in priorities})
        self._rng = rng or random.Random()

    def update(self, priorities: Mapping[str, ProviderPriority]) -> None:
        self.priorities = {name: p for name, p in priorities.items() if name in self.providers}

    def choose(self, *, international: bool = False) -> SmsProvider | None:
        """A provider for one message, at random weighted by priority; None if no active provider can take it."""
        name = choose(self.priorities.values(), international=international, rng=self._rng)
        return None if name is None else self.providers[name]


def provider_at_fault(exc: ProviderError) -> bool:
    """Whether a failed send counts against the provider: outages, timeouts, 5xx and throttling do, and so do
    refused credentials (every message would fail); a refusal of this one message (other 4xx) does not."""
    return exc.retryable or exc.status_code in (401, 403)


class SmsSender:
    def __init__(
        self,
        db: Database,
        pool: ProviderPool,
        *,
        concurrency: int = 100,
        on_provider_error: Callable[[str], None] | None = None,
    ) -> None:
        self.ledger = SendLedger(db, sends, outbox_table, producer=PRODUCER)
        self.pool = pool
        self._limit = asyncio.Semaphore(concurrency)
        # Told the provider's name on every failed send (failover counts them); must not block or raise.
        self._on_provider_error = on_provider_error

    async def handle(self, batch: Sequence[Envelope[Any]]) -> int:
        """Deliver a batch. Raises (so the consumer retries) only for retryable provider errors."""
        return await self.ledger.handle(batch, lambda env, resumed: self._deliver(env, resumed=resumed))

    async def _deliver(self, env: Envelope[Any], *, resumed: bool) -> Outcome:
        request: SmsDeliveryRequestedV1 = env.payload
        nid = str(request.notification_id)
        now = datetime.now(UTC)
        if request.key_type == "test":
            final = research_mode_outcome("sms", request.to)
            return Outcome(env, "research", f"research-{nid}", now, ("sending", final))
        async with self._limit:
            if resumed:
                for candidate in self.pool.providers.values():
                    existing = await candidate.lookup(nid)
                    if existing:
                        log.warning(
                            "delivery.sms.resumed_after_crash", notification_id=nid, provider=candidate.name
                        )
                        return Outcome(env, candidate.name, existing, now, ("sending",))
            # Chosen at the last moment, so a message that waited for a slot goes by the latest priorities.
            provider = self.pool.choose(international=request.international)
            if provider is None:
                # Retried like an outage: an admin may bring a provider back before the retries run out.
                log.error(
                    "delivery.sms.no_provider", notification_id=nid, international=request.international
                )
                raise ProviderError("no active SMS provider can take this message", retryable=True)
            try:
                reference = await provider.send(
                    to=request.to,
                    content=request.content,
                    sender=request.sender,
                    notification_id=nid,
                    international=request.international,
                )
            except ProviderError as exc:
                if self._on_provider_error is not None and provider_at_fault(exc):
                    self._on_provider_error(provider.name)
                if exc.retryable:
                    log.warning("delivery.sms.provider_error", notification_id=nid, provider=provider.name)
                    raise
                log.error("delivery.sms.refused", notification_id=nid, provider=provider.name)
                return Outcome(env, provider.name, None, None, ("technical-failure",), detail=str(exc)[:200])
        log.info(
            "delivery.sms.sent",
            notification_id=nid,
            provider=provider.name,
            correlation_id=env.correlation_id,
        )
        return Outcome(env, provider.name, reference, datetime.now(UTC), ("sending",))


async def give_up(db: Database, envelope: Envelope[Any], reason: str) -> None:
    """Every retry failed: the notification ends ``technical-failure`` unless it was sent after all."""
    await SendLedger(db, sends, outbox_table, producer=PRODUCER).give_up(envelope, reason)
    log.error("delivery.sms.gave_up", notification_id=str(envelope.payload.notification_id))
