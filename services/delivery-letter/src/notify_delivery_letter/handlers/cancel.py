"""letter.cancelled → the letter is taken out of print.

A letter still waiting (ready, or in a batch whose upload has not succeeded) is never sent to the printer; one whose
request has not arrived yet is recorded as cancelled so it is never queued. Idempotent: cancelling twice changes
nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from notify_contracts import Envelope
from notify_platform.db import Database
from notify_platform.logging import get_logger

from ..adapters import store

log = get_logger(__name__)


def cancelled_letters(batch: Sequence[Envelope[Any]]) -> dict[Any, Any]:
    """notification id → service id of the letters this batch cancels."""
    return {env.payload.notification_id: env.payload.service_id for env in batch}


async def handle_cancellations(db: Database, batch: Sequence[Envelope[Any]]) -> int:
    wanted = cancelled_letters(batch)
    if not wanted:
        return 0
    changed = await db.transaction(lambda conn: store.cancel(conn, wanted.items()))
    for notification_id in wanted:
        log.info("delivery.letter.cancelled", notification_id=str(notification_id))
    return changed
