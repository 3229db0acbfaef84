"""What request handlers need, taken from the process's one wiring point (``bootstrap``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from notify_platform.db import Database

from ..adapters.notifications_client import NotificationsClient
from ..settings import Settings


@dataclass
class Context:
    settings: Settings
    db: Database
    notifications: NotificationsClient


async def _context(request: Request) -> Context:
    return request.app.state.context  # type: ignore[no-any-return]


Ctx = Annotated[Context, Depends(_context)]
