"""``python -m notify_delivery_letter <role> [--port N]``: api, consumer, all (both), or migrate."""

from notify_platform.cli import run_service

from . import bootstrap
from .settings import Settings


def main() -> None:
    run_service(bootstrap, Settings)


if __name__ == "__main__":
    main()
