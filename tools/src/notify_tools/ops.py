"""``notify-ops``: operations commands. ``replay-dlq <queue>`` moves dead letters back onto their queue;
``add-inbound-numbers <number>…`` adds numbers to the pool services get their inbound number from;
``replay-callbacks`` makes service callbacks that used every retry due again."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import uuid
from collections.abc import Iterable

from notify_platform.broker import Broker
from notify_platform.consumer import replay_dead_letters
from notify_platform.settings import CommonSettings
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

INBOUND_PROVIDERS = ("mmg", "firetext")


async def _replay(queue: str, limit: int | None) -> int:
    settings = CommonSettings()
    broker = Broker(settings.amqp_url, exchange_name=settings.exchange_name, producer="notify-ops")
    await broker.connect(attempts=3)
    try:
        return await replay_dead_letters(broker, queue, limit=limit)
    finally:
        await broker.close()


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


def _replay_callbacks(args: argparse.Namespace) -> None:
    try:
        service_id = uuid.UUID(args.service) if args.service else None
    except ValueError:
        sys.exit(f"notify-ops replay-callbacks: not a service id: {args.service!r}")
    engine = create_engine(args.database_url or notifications_database_url())
    try:
        count = replay_callbacks(engine, service_id=service_id, callback_type=args.type)
    finally:
        engine.dispose()
    print(f"{count} exhausted callback(s) due again")


def notifications_database_url() -> str:
    return os.environ.get("NOTIFICATIONS_DATABASE_URL") or CommonSettings().database_url("notifications")


def _add_numbers(args: argparse.Namespace) -> None:
    numbers = list(args.numbers)
    if args.file:
        with open(args.file, encoding="utf-8") as lines:
            numbers += [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    if not numbers:
        sys.exit("notify-ops add-inbound-numbers: give numbers or --file")
    try:
        wanted = {pool_number(n) for n in numbers}
    except ValueError as exc:
        sys.exit(f"notify-ops add-inbound-numbers: {exc}")
    engine = create_engine(args.database_url or notifications_database_url())
    try:
        added = add_inbound_numbers(engine, numbers, provider=args.provider)
    finally:
        engine.dispose()
    print(
        f"added {len(added)} inbound number(s) for {args.provider}; {len(wanted) - len(added)} already in the pool"
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="notify-ops")
    commands = parser.add_subparsers(dest="command", required=True)
    replay = commands.add_parser("replay-dlq", help="move messages from <queue>.dlq back to <queue>")
    replay.add_argument("queue")
    replay.add_argument("--limit", type=int, default=None)
    numbers = commands.add_parser(
        "add-inbound-numbers", help="add numbers (national or +44 form) to the pool of inbound numbers"
    )
    numbers.add_argument("numbers", nargs="*", help="e.g. 07700900456")
    numbers.add_argument("--file", help="a file of numbers, one per line (# starts a comment line)")
    numbers.add_argument(
        "--provider", choices=INBOUND_PROVIDERS, default="mmg", help="who delivers their texts"
    )
    numbers.add_argument(
        "--database-url",
        help="the notifications database (default: NOTIFICATIONS_DATABASE_URL or POSTGRES_URL)",
    )
    callbacks = commands.add_parser(
        "replay-callbacks", help="send again the service callbacks that used every retry (state exhausted)"
    )
    callbacks.add_argument("--service", help="only this service's (id)")
    callbacks.add_argument("--type", choices=CALLBACK_TYPES, help="only callbacks of this type")
    callbacks.add_argument(
        "--database-url",
        help="the notifications database (default: NOTIFICATIONS_DATABASE_URL or POSTGRES_URL)",
    )
    args = parser.parse_args()
    if args.command == "replay-callbacks":
        _replay_callbacks(args)
    if args.command == "add-inbound-numbers":
        _add_numbers(args)
    if args.command == "replay-dlq":
        moved = asyncio.run(_replay(args.queue, args.limit))
        print(f"replayed {moved} message(s) onto {args.queue}")


if __name__ == "__main__":
    main()
