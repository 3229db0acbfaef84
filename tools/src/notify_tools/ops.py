"""``notify-ops``: operations commands. ``replay-dlq <queue>`` moves dead letters back onto their queue;
``add-inbound-numbers <number>…`` adds numbers to the pool services get their inbound number from."""

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
    args = parser.parse_args()
    if args.command == "add-inbound-numbers":
        _add_numbers(args)
    if args.command == "replay-dlq":
        moved = asyncio.run(_replay(args.queue, args.limit))
        print(f"replayed {moved} message(s) onto {args.queue}")


if __name__ == "__main__":
    main()
