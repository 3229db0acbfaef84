"""The command line every service shares: ``python -m <package> <role> [--port N]``."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType

from .broker import Broker
from .consumer import declare_queues
from .logging import configure
from .migrations import upgrade
from .runtime import serve
from .settings import CommonSettings


def run_service(
    bootstrap: ModuleType, settings_factory: Callable[[], CommonSettings], argv: Sequence[str] | None = None
) -> None:
    """Parse the role, configure logging, then migrate once or serve the role's app until SIGTERM/SIGINT.

    ``bootstrap`` is the service's wiring module: ``SERVICE``, ``ROLES``, ``build(role, settings)``, and, for a
    service that owns a database or consumes queues, ``MIGRATIONS`` and ``QUEUES``.
    """
    service: str = bootstrap.SERVICE
    parser = argparse.ArgumentParser(prog=f"notify-{service}")
    parser.add_argument("role", choices=list(bootstrap.ROLES))
    parser.add_argument(
        "--port", type=int, default=None, help="HTTP port (health, metrics and the role's routes)"
    )
    args = parser.parse_args(argv)
    settings = settings_factory()
    configure(f"{service}-{args.role}", settings.log_level)
    if args.role == "migrate":
        migrations: Path | None = getattr(bootstrap, "MIGRATIONS", None)
        if migrations is not None:
            upgrade(migrations, settings.database)  # type: ignore[attr-defined]
        queues = getattr(bootstrap, "QUEUES", None)
        if queues:
            asyncio.run(_declare(settings, service, queues))
        return
    port = args.port or settings.port
    serve(bootstrap.build(args.role, settings), host=settings.http_host, port=port)


async def _declare(settings: CommonSettings, service: str, queues: dict[str, tuple[str, ...]]) -> None:
    broker = Broker(settings.amqp_url, exchange_name=settings.exchange_name, producer=f"{service}-migrate")
    await broker.connect()
    try:
        await declare_queues(broker, queues)
    finally:
        await broker.close()
