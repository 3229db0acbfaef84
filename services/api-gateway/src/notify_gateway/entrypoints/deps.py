"""Request-scoped dependencies of the gateway: the process context and the authenticated caller."""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from notify_platform.broker import Broker
from notify_platform.daily_limits import DailyLimits

from ..adapters.internal_client import InternalUnavailable, NotificationsClient
from ..auth import ApiKeyRecord, AuthError, ServiceAuthRecord, authenticate_api_key
from ..domain.errors import V2Error, unavailable
from ..ratelimit import RateLimiter
from ..settings import Settings


@dataclass
class Context:
    settings: Settings
    broker: Broker
    notifications: NotificationsClient
    redis: Any
    limiter: RateLimiter
    daily_limits: DailyLimits
    document_store: Any = None  # domain.files.DocumentStore (blocking; used from a worker thread)
    letters: Any = None  # adapters.letters_client.LettersClient (letter PDFs live in delivery-letter)


@dataclass(frozen=True)
class Caller:
    service: dict[str, Any]
    key: ApiKeyRecord

    @functools.cached_property
    def service_id(self) -> uuid.UUID:  # read several times a request; parsed once
        return uuid.UUID(self.service["id"])


def context_of(request: Request) -> Context:
    return request.app.state.context  # type: ignore[no-any-return]


async def get_context(request: Request) -> Context:
    """The dependency form. ``async`` because FastAPI runs a plain ``def`` dependency on a worker thread: a thread
    hop on every request for an attribute read."""
    return context_of(request)


Ctx = Annotated[Context, Depends(get_context)]


def _auth_record(service: dict[str, Any]) -> ServiceAuthRecord:
    """The auth view of a cached service record, built once per cache entry."""
    record = service.get("_auth")
    if record is None:
        record = ServiceAuthRecord(
            id=uuid.UUID(service["id"]),
            active=service["active"],
            api_keys=tuple(
                ApiKeyRecord(
                    id=uuid.UUID(k["id"]),
                    secret=k["secret"],
                    key_type=k["key_type"],
                    expiry_date=datetime.fromisoformat(k["expiry_date"]) if k["expiry_date"] else None,
                )
                for k in service["api_keys"]
            ),
        )
        service["_auth"] = record
    return record


async def authenticated(request: Request, ctx: Ctx) -> Caller:
    services: dict[uuid.UUID, dict[str, Any]] = {}

    async def lookup(service_id: uuid.UUID, *, fresh: bool = False) -> ServiceAuthRecord | None:
        try:
            service = await ctx.notifications.service(service_id, fresh=fresh)
        except InternalUnavailable as exc:
            raise unavailable() from exc
        if service is None:
            return None
        services[service_id] = service
        return _auth_record(service)

    try:
        record, key = await authenticate_api_key(request.headers.get("authorization"), lookup)
    except AuthError as exc:
        raise V2Error(exc.status_code, "AuthError", exc.message) from exc
    caller = Caller(service=services[record.id], key=key)
    request.state.service_id = str(record.id)
    return caller


Auth = Annotated[Caller, Depends(authenticated)]
