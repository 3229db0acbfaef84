"""SMS provider adapters: one class per aggregator protocol ("mmg", "firetext"), one shared aiohttp session each.

Usage::

    provider = build_provider("mmg", base_url=..., username=..., password=...,
                              receipt_username=..., receipt_password=...)
    message_id = await provider.send(to=..., content=..., sender=..., notification_id=..., international=False)
    ...
    await provider.aclose()
"""

from __future__ import annotations

import aiohttp

from .base import (
    DELIVERED,
    PENDING,
    PERMANENT_FAILURE,
    TECHNICAL_FAILURE,
    TEMPORARY_FAILURE,
    ProviderError,
    Receipt,
    SmsProvider,
)
from .firetext import FiretextProvider
from .mmg import MmgProvider

PROVIDERS: dict[str, type[MmgProvider] | type[FiretextProvider]] = {
    "mmg": MmgProvider,
    "firetext": FiretextProvider,
}


def build_provider(
    name: str,
    *,
    base_url: str,
    username: str,
    password: str,
    receipt_username: str,
    receipt_password: str,
    timeout: float = 10.0,
    http_client: aiohttp.ClientSession | None = None,
) -> SmsProvider:
    """An adapter for provider ``name``; it needs no running event loop until its first request.

    The adapter makes its own ``aiohttp.ClientSession`` on first use (``timeout`` seconds per request, a pool of
    ``MAX_CONNECTIONS`` kept-alive connections) and closes it in ``aclose``. A passed ``http_client`` session is
    used as is and not closed by ``aclose``.
    """
    try:
        cls = PROVIDERS[name]
    except KeyError:
        raise ValueError(f"unknown SMS provider {name!r} (expected one of {sorted(PROVIDERS)})") from None
    return cls(
        base_url=base_url,
        username=username,
        password=password,
        receipt_username=receipt_username,
        receipt_password=receipt_password,
        timeout=timeout,
        http_client=http_client,
    )


__all__ = [
    "DELIVERED",
    "PENDING",
    "PERMANENT_FAILURE",
    "PROVIDERS",
    "TECHNICAL_FAILURE",
    "TEMPORARY_FAILURE",
    "FiretextProvider",
    "MmgProvider",
    "ProviderError",
    "Receipt",
    "SmsProvider",
    "build_provider",
]
