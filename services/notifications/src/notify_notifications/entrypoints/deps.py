"""What request handlers need, taken from the process's one wiring point (``bootstrap``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from notify_platform.db import Database
from notify_platform.outbox import OutboxRelay

from ..adapters.crypto import SecretBox
from ..settings import Settings


@dataclass
class Context:
    settings: Settings
    db: Database
    box: SecretBox
    relay: OutboxRelay | None

    def published(self) -> None:
        """Call after a commit that wrote outbox rows, so they are relayed now rather than at the next poll."""
        if self.relay is not None:
            self.relay.wake()


async def _context(request: Request) -> Context:
    return request.app.state.context  # type: ignore[no-any-return]


Ctx = Annotated[Context, Depends(_context)]
