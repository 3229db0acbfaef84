"""Command line entry point: settings from ``SMS_SIM_*`` environment variables, overridden by flags."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import uvicorn

from .app import create_app
from .settings import SimulatorSettings


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m notify_delivery_sms.simulator", description="SMS provider simulator (mmg / firetext)"
    )
    parser.add_argument("--flavour", choices=["mmg", "firetext"])
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--receipt-url")
    parser.add_argument("--receipt-delay-ms", type=int)
    parser.add_argument("--inbound-url")
    parser.add_argument("--latency-ms", type=int)
    parser.add_argument("--error-rate", type=float)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--log-level")
    return parser.parse_args(argv)


def settings_from(args: argparse.Namespace) -> SimulatorSettings:
    overrides = {key: value for key, value in vars(args).items() if value is not None}
    return SimulatorSettings(**overrides)


def main(argv: Sequence[str] | None = None) -> None:
    settings = settings_from(parse_args(argv))
    try:
        from notify_platform.logging import configure
    except ImportError:  # pragma: no cover - the platform package is a dependency of this service
        configure = None
    if configure is not None:
        configure(f"sms-simulator-{settings.flavour}", settings.log_level)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        log_level=settings.log_level.lower(),
        timeout_keep_alive=30,
    )
