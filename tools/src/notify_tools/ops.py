"""What ``notifyctl add-inbound-numbers`` and ``replay-callbacks`` do to the notifications database: add numbers to
the pool services get their inbound number from; make service callbacks that used every retry due again. The command
line is ``notify_tools.notifyctl``; ``notify-ops`` (and ``python -m notify_tools.ops``) is an alias of it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable

from notify_platform.settings import CommonSettings
from sqlalchemy import text
from sqlalchemy.engine import Engine

INBOUND_PROVIDERS = ("mmg", "firetext")


def pool_number(number: str) -> str:
    """An inbound number as the pool keeps it: national form (``07700900456``), whatever the spacing or an
    international ``+44``/``44`` prefix. Raises ValueError for anything that is not digits."""
    digits = "".join(number.split()).removeprefix("+")
    if digits.startswith("44"):
        digits = "0" + digits[2:]
    if not (digits.isascii() and digits.isdigit() and 5 <= len(digits) <= 15):
        raise ValueError(f"not a phone number: {number!r}")
    return digits


def add_inbound_numbers(engine: Engine, numbers: Iterable[str], *, provider: str) -> list[str]:
    """Add each number to the notifications database's pool (active, given to no service) unless it is there
    already, in one transaction. Returns the numbers added, in national form."""
    if provider not in INBOUND_PROVIDERS:
        raise ValueError(f"unknown provider {provider!r} (expected one of {', '.join(INBOUND_PROVIDERS)})")
    wanted = list(dict.fromkeys(pool_number(n) for n in numbers))
    insert = text(
        "INSERT INTO inbound_numbers (id, number, provider, active, created_at) "
        "VALUES (:id, :number, :provider, true, now()) ON CONFLICT (number) DO NOTHING RETURNING number"
    )
    with engine.begin() as conn:
        return [
            added
            for number in wanted
            for added in conn.execute(insert, {"id": uuid.uuid4(), "number": number, "provider": provider})
            .scalars()
            .all()
        ]


CALLBACK_TYPES = ("delivery_status", "complaint", "returned_letter", "inbound_sms")


def replay_callbacks(
    engine: Engine, *, service_id: uuid.UUID | None = None, callback_type: str | None = None
) -> int:
    """Callbacks left ``exhausted`` (every retry used while the service's endpoint was failing) become due now with
    their retries renewed, for one service or type or all. Returns how many; the notifications consumer sends them
    with the service's current URL and token."""
    if callback_type is not None and callback_type not in CALLBACK_TYPES:
        raise ValueError(
            f"unknown callback type {callback_type!r} (expected one of {', '.join(CALLBACK_TYPES)})"
        )
    replay = text(
        "UPDATE callback_deliveries SET state = 'pending', attempts = 0, next_attempt_at = now(), "
        "locked_until = NULL, updated_at = now() WHERE state = 'exhausted' "
        "AND (CAST(:service_id AS uuid) IS NULL OR service_id = :service_id) "
        "AND (CAST(:callback_type AS text) IS NULL OR callback_type = :callback_type)"
    )
    with engine.begin() as conn:
        result = conn.execute(replay, {"service_id": service_id, "callback_type": callback_type})
        return int(result.rowcount or 0)


def notifications_database_url() -> str:
    return os.environ.get("NOTIFICATIONS_DATABASE_URL") or CommonSettings().database_url("notifications")


def main() -> None:
    """``notify-ops``: an alias of ``notifyctl``."""
    from .notifyctl import main as notifyctl

    notifyctl(prog="notify-ops")


if __name__ == "__main__":
    main()
