"""delivery.sms.requested → one send at a provider, recorded in the ledger, reported as ``sending``.

Exactly once at the provider: a batch first *claims* its notifications in the ledger (committed before any
provider call). A notification already ``sent`` or ``failed`` is skipped; one left ``claimed`` by a crash is
looked up at the provider by its client reference before anything is sent again. The record of the send and the
``sending`` report are written in one transaction (outbox).

Test keys never reach a provider ("research mode"): the outcome the simulated recipient calls for is reported
straight away.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from notify_content.recipients.simulated import research_mode_outcome
from notify_contracts import Envelope, SmsDeliveryRequestedV1
from notify_platform.db import Database
from notify_platform.logging import get_logger
from notify_platform.send_ledger import Outcome, SendLedger

from ..adapters.tables import outbox as outbox_table
from ..adapters.tables import sends
from ..providers import ProviderError, SmsProvider

log = get_logger(__name__)
PRODUCER = "delivery-sms"


class ProviderPool:
    """Chooses a provider per message at random, weighted by priority."""

    def __init__(self, providers: dict[str, SmsProvider], weights: dict[str, int]) -> None:
        self.providers = providers
        self.weights = dict(weights)

    def choose(self) -> SmsProvider:
        names = [n for n in self.providers if self.weights.get(n, 0) > 0] or list(self.providers)
        name = random.choices(names, weights=[max(self.weights.get(n, 0), 1) for n in names])[0]
        return self.providers[name]


class SmsSender:
    def __init__(self, db: Database, pool: ProviderPool, *, concurrency: int = 100) -> None:
        self.ledger = SendLedger(db, sends, outbox_table, producer=PRODUCER)
        self.pool = pool
        self._limit = asyncio.Semaphore(concurrency)

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
        provider = self.pool.choose()
        async with self._limit:
            if resumed:
                for candidate in self.pool.providers.values():
                    existing = await candidate.lookup(nid)
                    if existing:
                        log.warning(
                            "delivery.sms.resumed_after_crash", notification_id=nid, provider=candidate.name
                        )
                        return Outcome(env, candidate.name, existing, now, ("sending",))
            try:
                reference = await provider.send(
                    to=request.to,
                    content=request.content,
                    sender=request.sender,
                    notification_id=nid,
                    international=request.international,
                )
            except ProviderError as exc:
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
