"""``python -m notify_gateway api [--port N]``: the public API and admin routes (stateless; scale freely)."""

from notify_platform.cli import run_service

from . import bootstrap
from .settings import Settings


def main() -> None:
    run_service(bootstrap, Settings)


if __name__ == "__main__":
    main()
