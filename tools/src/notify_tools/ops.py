"""``notify-ops``: operations commands. ``replay-dlq <queue>`` moves dead letters back onto their queue."""

from __future__ import annotations

import argparse
import asyncio

from notify_platform.broker import Broker
from notify_platform.consumer import replay_dead_letters
from notify_platform.settings import CommonSettings


async def _replay(queue: str, limit: int | None) -> int:
    settings = CommonSettings()
    broker = Broker(settings.amqp_url, exchange_name=settings.exchange_name, producer="notify-ops")
    await broker.connect(attempts=3)
    try:
        return await replay_dead_letters(broker, queue, limit=limit)
    finally:
        await broker.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="notify-ops")
    commands = parser.add_subparsers(dest="command", required=True)
    replay = commands.add_parser("replay-dlq", help="move messages from <queue>.dlq back to <queue>")
    replay.add_argument("queue")
    replay.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    if args.command == "replay-dlq":
        moved = asyncio.run(_replay(args.queue, args.limit))
        print(f"replayed {moved} message(s) onto {args.queue}")


if __name__ == "__main__":
    main()
