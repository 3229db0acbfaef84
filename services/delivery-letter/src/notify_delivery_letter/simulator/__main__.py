"""Command line entry point: settings from ``PRINT_SIM_*`` environment variables, overridden by flags."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import uvicorn
from notify_platform.logging import configure

from .app import create_app
from .settings import PrintSimulatorSettings


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m notify_delivery_letter.simulator", description="Print provider simulator"
    )
    for flag, kind in (
        ("--host", str),
        ("--port", int),
        ("--receipt-url", str),
        ("--latency-ms", int),
        ("--error-rate", float),
        ("--despatch-delay-ms", int),
        ("--return-delay-ms", int),
        ("--log-level", str),
    ):
        parser.add_argument(flag, type=kind)
    overrides = {k: v for k, v in vars(parser.parse_args(argv)).items() if v is not None}
    settings = PrintSimulatorSettings(**overrides)
    configure("print-simulator", settings.log_level)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_keep_alive=30,
    )


if __name__ == "__main__":
    main()
