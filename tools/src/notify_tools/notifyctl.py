"""notifyctl: the operations command line.

- ``queues [--json]``: every consumer queue the services declare, with its ready messages, consumers and dead letters;
- ``replay-dlq <queue> [--limit N]`` / ``purge-dlq <queue> [--yes]``: move a queue's dead letters back, or drop them;
- ``replay-callbacks`` and ``add-inbound-numbers``: see ``notify_tools.ops``;
- ``create-service``, ``rotate-key`` and ``demo``: through the admin API of a running stack (``--base-url``,
  ``NOTIFY_BASE_URL``; admin JWTs signed with ``NOTIFY_ADMIN_CLIENT_SECRET``).

RabbitMQ is reached at ``AMQP_URL`` (or ``--amqp-url``); queues are only ever looked up with passive declares, so no
command creates a queue. Every failure is one line on stderr and a non-zero exit. ``notify-ops`` and ``notify-demo``
are aliases (``notify-demo`` is ``notifyctl demo``).
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import importlib
import importlib.util
import json
import logging
import os
import pkgutil
import re
import sys
import uuid
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse, urlunparse

import aio_pika
import httpx
from jwt.warnings import InsecureKeyLengthWarning
from notify_platform.broker import Broker
from notify_platform.consumer import replay_dead_letters
from notify_platform.settings import DEVELOPMENT_ADMIN_SECRET, CommonSettings
from sqlalchemy import create_engine
from sqlalchemy.exc import SQLAlchemyError

from . import ops
from .admin_client import AdminApiError, AdminClient
from .demo import create_demo, create_service_with_keys, find_or_create_user

DEFAULT_BASE_URL = "http://localhost:6011"


class CtlError(Exception):
    """A failure to report as one line, without a traceback."""


# --- the queues the code declares -------------------------------------------------------------------------------


def _literal_queues(module: str) -> dict[str, tuple[str, ...]] | None:
    """``QUEUES`` of ``<module>.bootstrap``, read from its source without importing it (importing a service's wiring
    is slow); imported only if the value is not a plain literal. None when the module has no bootstrap."""
    try:
        spec = importlib.util.find_spec(f"{module}.bootstrap")
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None:
        return None
    with open(spec.origin, encoding="utf-8") as source:
        tree = ast.parse(source.read())
    for node in tree.body:
        target = node.targets[0] if isinstance(node, ast.Assign) else getattr(node, "target", None)
        if isinstance(target, ast.Name) and target.id == "QUEUES" and node.value is not None:
            try:
                return dict(ast.literal_eval(node.value))
            except ValueError:
                return dict(importlib.import_module(f"{module}.bootstrap").QUEUES)
    return {}


def declared_queues() -> dict[str, str]:
    """Every consumer queue a service declares (``QUEUES`` in each ``notify_*/bootstrap.py``, what its migrate role
    declares), mapped to the service's package, in service then declaration order."""
    found: dict[str, str] = {}
    modules = sorted({m.name for m in pkgutil.iter_modules() if m.name.startswith("notify_") and m.ispkg})
    for module in modules:
        for queue in _literal_queues(module) or {}:
            found.setdefault(queue, module)
    return found


def known_queue(name: str) -> str:
    """``name`` if a service declares it (``<queue>.dlq`` is taken to mean ``<queue>``); else a CtlError."""
    queues = declared_queues()
    if name not in queues and name.endswith(".dlq") and name.removesuffix(".dlq") in queues:
        name = name.removesuffix(".dlq")
    if name not in queues:
        raise CtlError(f"unknown queue {name!r} (the services declare: {', '.join(queues)})")
    return name


# --- RabbitMQ ---------------------------------------------------------------------------------------------------


def _without_password(url: str) -> str:
    parts = urlparse(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunparse(parts._replace(netloc=netloc))


async def _connect(amqp_url: str) -> aio_pika.abc.AbstractConnection:
    """A plain (not self-recovering) connection: a command should fail at once, not wait for the broker."""
    try:
        return await aio_pika.connect(amqp_url, timeout=5, client_properties={"connection_name": "notifyctl"})
    except (TimeoutError, OSError, aio_pika.exceptions.AMQPError) as exc:
        raise CtlError(f"cannot reach RabbitMQ at {_without_password(amqp_url)}: {_reason(exc)}") from None


async def _passive(connection: aio_pika.abc.AbstractConnection, queue: str) -> tuple[int, int] | None:
    """(ready messages, consumers) of ``queue``, or None if it does not exist. A channel of its own: a missing
    queue closes the channel that asked."""
    try:
        async with connection.channel(publisher_confirms=False) as channel:
            declared = await channel.declare_queue(queue, passive=True)
            result = declared.declaration_result
            return int(result.message_count or 0), int(result.consumer_count or 0)
    except aio_pika.exceptions.ChannelNotFoundEntity:
        return None


@dataclass
class QueueDepth:
    queue: str
    service: str
    exists: bool
    ready: int | None  # messages waiting (not counting those delivered and not yet acked)
    consumers: int | None
    dead_letters: int | None  # in <queue>.dlq; None when that queue is missing


async def queue_depths(amqp_url: str) -> list[QueueDepth]:
    connection = await _connect(amqp_url)
    try:
        rows = []
        for queue, service in declared_queues().items():
            main, dlq = await _passive(connection, queue), await _passive(connection, f"{queue}.dlq")
            rows.append(
                QueueDepth(
                    queue=queue,
                    service=service,
                    exists=main is not None,
                    ready=main[0] if main else None,
                    consumers=main[1] if main else None,
                    dead_letters=dlq[0] if dlq else None,
                )
            )
        return rows
    finally:
        await connection.close()


async def count_dead_letters(amqp_url: str, queue: str) -> int:
    connection = await _connect(amqp_url)
    try:
        found = await _passive(connection, f"{queue}.dlq")
    finally:
        await connection.close()
    if found is None:
        raise CtlError(f"queue {queue}.dlq does not exist on the broker (has `make migrate` run?)")
    return found[0]


async def purge_dead_letters(amqp_url: str, queue: str) -> int:
    """Remove every message from ``<queue>.dlq``; returns how many the broker removed."""
    connection = await _connect(amqp_url)
    try:
        async with connection.channel(publisher_confirms=False) as channel:
            try:
                dlq = await channel.declare_queue(f"{queue}.dlq", passive=True)
            except aio_pika.exceptions.ChannelNotFoundEntity:
                raise CtlError(f"queue {queue}.dlq does not exist on the broker") from None
            purged = await dlq.purge()
            return int(getattr(purged, "message_count", 0) or 0)
    finally:
        await connection.close()


async def replay(amqp_url: str, exchange_name: str, queue: str, limit: int | None) -> int:
    broker = Broker(amqp_url, exchange_name=exchange_name, producer="notifyctl")
    try:
        await broker.connect(attempts=1)
    except (TimeoutError, OSError, aio_pika.exceptions.AMQPError) as exc:
        raise CtlError(f"cannot reach RabbitMQ at {_without_password(amqp_url)}: {_reason(exc)}") from None
    try:
        return await replay_dead_letters(broker, queue, limit=limit)
    except LookupError as exc:
        raise CtlError(f"{exc} (has `make migrate` run?)") from None
    finally:
        await broker.close()


# --- the admin API ----------------------------------------------------------------------------------------------


def _admin(args: argparse.Namespace) -> AdminClient:
    secret = os.environ.get("NOTIFY_ADMIN_CLIENT_SECRET", DEVELOPMENT_ADMIN_SECRET)
    return AdminClient(args.base_url, secret)


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:40] or "service"


def create_service(
    admin: AdminClient, *, name: str, email: str | None = None, user_name: str | None = None
) -> dict[str, Any]:
    """A live service with one key of each type, run by the user with ``email`` (made if there is none)."""
    user, user_created = find_or_create_user(
        admin,
        email=email,
        name=user_name or f"{name} admin",
        email_prefix=_slug(name).replace("_", "-") + "-admin",
    )
    made = create_service_with_keys(admin, name=name, user=user, key_prefix=_slug(name))
    return {
        **made,
        "user_id": user["id"],
        "user_email": user["email_address"],
        "user_created": user_created,
    }


ROTATED = re.compile(r"-rotated-\d{14}$")


def rotate_key(admin: AdminClient, service_id: str, key_id: str, *, keep_old: bool = False) -> dict[str, Any]:
    """A new key of the same type as ``key_id``, named after it (``<name>-rotated-<UTC time>``), then, unless
    ``keep_old``, the old one revoked. If revoking fails the answer carries ``revoke_error`` (the new key exists
    and its secret must still be shown)."""
    try:
        old = admin.get(f"/service/{service_id}/api-keys/{key_id}")["apiKeys"][0]
    except AdminApiError as exc:
        if exc.status_code == 404:
            raise CtlError(f"no active API key {key_id} in service {service_id}") from None
        raise
    name = ROTATED.sub("", old["name"]) + datetime.now(UTC).strftime("-rotated-%Y%m%d%H%M%S")
    created = admin.post(
        f"/service/{service_id}/api-key",
        {"name": name, "key_type": old["key_type"], "created_by": old["created_by"]},
    )["api_key"]
    answer: dict[str, Any] = {
        "service_id": service_id,
        "key_id": created["id"],
        "key_name": name,
        "key_type": old["key_type"],
        "api_key": created["key"],
        "old_key_id": key_id,
        "old_key_revoked": False,
    }
    if not keep_old:
        try:
            admin.post(f"/service/{service_id}/api-key/revoke/{key_id}", {"created_by": old["created_by"]})
            answer["old_key_revoked"] = True
        except (AdminApiError, httpx.HTTPError) as exc:
            answer["revoke_error"] = _reason(exc)
    return answer


# --- output -----------------------------------------------------------------------------------------------------


def _reason(exc: BaseException) -> str:
    if isinstance(exc, AdminApiError):
        body = exc.body
        if isinstance(body, dict):
            message = body.get("message", body.get("errors", body))
            body = message if isinstance(message, str) else json.dumps(message)
        return f"the admin API answered {exc.status_code}: {body}"
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers], *[["-" if c is None else str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for row in cells:
        parts = [
            c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


def _print_json(value: Any) -> None:
    json.dump(value, sys.stdout)
    sys.stdout.write("\n")


# --- commands ---------------------------------------------------------------------------------------------------


def _amqp_url(args: argparse.Namespace) -> str:
    return args.amqp_url or CommonSettings().amqp_url


def cmd_queues(args: argparse.Namespace) -> int:
    rows = asyncio.run(queue_depths(_amqp_url(args)))
    if args.json:
        _print_json([asdict(r) for r in rows])
        return 0
    missing = "missing"
    print(
        _table(
            ("queue", "service", "ready", "consumers", "dead letters"),
            [
                (
                    r.queue,
                    r.service,
                    r.ready if r.exists else missing,
                    r.consumers,
                    missing if r.dead_letters is None else r.dead_letters,
                )
                for r in rows
            ],
        )
    )
    return 0


def cmd_replay_dlq(args: argparse.Namespace) -> int:
    queue = known_queue(args.queue)
    if args.limit is not None and args.limit < 1:
        raise CtlError("--limit must be at least 1")
    settings = CommonSettings()
    moved = asyncio.run(replay(_amqp_url(args), settings.exchange_name, queue, args.limit))
    print(f"replayed {moved} message(s) onto {queue}")
    return 0


def cmd_purge_dlq(args: argparse.Namespace) -> int:
    queue = known_queue(args.queue)
    url = _amqp_url(args)
    if not args.yes:
        waiting = asyncio.run(count_dead_letters(url, queue))
        if waiting == 0:
            print(f"{queue}.dlq is empty: nothing to remove")
            return 0
        try:
            answer = input(f"Remove {waiting} dead letter(s) from {queue}.dlq for good? [y/N] ")
        except EOFError:
            answer = ""
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing removed", file=sys.stderr)
            return 1
    removed = asyncio.run(purge_dead_letters(url, queue))
    print(f"removed {removed} dead letter(s) from {queue}.dlq")
    return 0


def cmd_replay_callbacks(args: argparse.Namespace) -> int:
    try:
        service_id = uuid.UUID(args.service) if args.service else None
    except ValueError:
        raise CtlError(f"not a service id: {args.service!r}") from None
    engine = create_engine(args.database_url or ops.notifications_database_url())
    try:
        count = ops.replay_callbacks(engine, service_id=service_id, callback_type=args.type)
    finally:
        engine.dispose()
    print(f"{count} exhausted callback(s) due again")
    return 0


def cmd_add_inbound_numbers(args: argparse.Namespace) -> int:
    numbers = list(args.numbers)
    if args.file:
        try:
            with open(args.file, encoding="utf-8") as lines:
                numbers += [line.strip() for line in lines if line.strip() and not line.startswith("#")]
        except OSError as exc:
            raise CtlError(f"cannot read {args.file}: {exc.strerror}") from None
    if not numbers:
        raise CtlError("give numbers or --file")
    try:
        wanted = {ops.pool_number(n) for n in numbers}
    except ValueError as exc:
        raise CtlError(str(exc)) from None
    engine = create_engine(args.database_url or ops.notifications_database_url())
    try:
        added = ops.add_inbound_numbers(engine, numbers, provider=args.provider)
    finally:
        engine.dispose()
    print(
        f"added {len(added)} inbound number(s) for {args.provider}; {len(wanted) - len(added)} already in the pool"
    )
    return 0


def cmd_create_service(args: argparse.Namespace) -> int:
    admin = _admin(args)
    try:
        made = create_service(admin, name=args.name, email=args.email, user_name=args.user_name)
    finally:
        admin.close()
    if args.json:
        _print_json({"base_url": args.base_url, **made})
        return 0
    print(f"service  {made['service_id']}  {made['service_name']}")
    print(f"user     {made['user_id']}  {made['user_email']}{' (new)' if made['user_created'] else ''}")
    for key_type, key in made["api_keys"].items():
        print(f"key {key_type:<7}{made['api_key_ids'][key_type]}  {key}")
    print("The keys are shown only now: store them before closing this terminal.", file=sys.stderr)
    return 0


def cmd_rotate_key(args: argparse.Namespace) -> int:
    for value, what in ((args.service, "service id"), (args.key_id, "key id")):
        try:
            uuid.UUID(value)
        except ValueError:
            raise CtlError(f"not a {what}: {value!r}") from None
    admin = _admin(args)
    try:
        rotated = rotate_key(admin, args.service, args.key_id, keep_old=args.keep_old)
    finally:
        admin.close()
    if args.json:
        _print_json(rotated)
    else:
        print(f"new {rotated['key_type']} key {rotated['key_id']} ({rotated['key_name']}):")
        print(rotated["api_key"])
        print("The key is shown only now: store it before closing this terminal.", file=sys.stderr)
        if rotated["old_key_revoked"]:
            print(f"old key {args.key_id} revoked")
        elif args.keep_old:
            print(
                f"old key {args.key_id} left active: once every client uses the new one, revoke it with "
                f"POST /service/{args.service}/api-key/revoke/{args.key_id}"
            )
    if "revoke_error" in rotated:
        raise CtlError(f"the new key exists, but revoking the old key failed: {rotated['revoke_error']}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    secret = os.environ.get("NOTIFY_ADMIN_CLIENT_SECRET", DEVELOPMENT_ADMIN_SECRET)
    _print_json(create_demo(args.base_url, secret))
    return 0


# --- the parser -------------------------------------------------------------------------------------------------


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")

    def add(name: str, handler: Callable[[argparse.Namespace], int], help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help)
        sub.set_defaults(handler=handler)
        return sub

    def amqp(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--amqp-url", help="RabbitMQ (default: AMQP_URL, else the local broker)")

    def database(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--database-url",
            help="the notifications database (default: NOTIFICATIONS_DATABASE_URL or POSTGRES_URL)",
        )

    def admin_api(sub: argparse.ArgumentParser, json_flag: bool = True) -> None:
        sub.add_argument(
            "--base-url",
            default=os.environ.get("NOTIFY_BASE_URL", DEFAULT_BASE_URL),
            help=f"the gateway (default: NOTIFY_BASE_URL, else {DEFAULT_BASE_URL})",
        )
        if json_flag:
            sub.add_argument("--json", action="store_true", help="one JSON object on stdout")

    queues = add(
        "queues", cmd_queues, "every consumer queue with its ready messages, consumers and dead letters"
    )
    queues.add_argument("--json", action="store_true", help="a JSON list on stdout")
    amqp(queues)

    replay_dlq = add("replay-dlq", cmd_replay_dlq, "move messages from <queue>.dlq back onto <queue>")
    replay_dlq.add_argument("queue")
    replay_dlq.add_argument("--limit", type=int, default=None, help="move at most this many")
    amqp(replay_dlq)

    purge = add("purge-dlq", cmd_purge_dlq, "remove every message from <queue>.dlq, for good")
    purge.add_argument("queue")
    purge.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    amqp(purge)

    callbacks = add(
        "replay-callbacks",
        cmd_replay_callbacks,
        "send again the service callbacks that used every retry (state exhausted)",
    )
    callbacks.add_argument("--service", help="only this service's (id)")
    callbacks.add_argument("--type", choices=ops.CALLBACK_TYPES, help="only callbacks of this type")
    database(callbacks)

    numbers = add(
        "add-inbound-numbers",
        cmd_add_inbound_numbers,
        "add numbers (national or +44 form) to the pool of inbound numbers",
    )
    numbers.add_argument("numbers", nargs="*", help="e.g. 07700900456")
    numbers.add_argument("--file", help="a file of numbers, one per line (# starts a comment line)")
    numbers.add_argument(
        "--provider", choices=ops.INBOUND_PROVIDERS, default="mmg", help="who delivers their texts"
    )
    database(numbers)

    service = add(
        "create-service",
        cmd_create_service,
        "a live service with one API key of each type, through the admin API (the keys are shown once)",
    )
    service.add_argument("--name", required=True, help="the service's name (unique)")
    service.add_argument("--email", help="its user: this one if it exists, else made with this address")
    service.add_argument("--user-name", help="the name of a user made for it")
    admin_api(service)

    rotate = add(
        "rotate-key",
        cmd_rotate_key,
        "a new key of the same type and name (suffixed) through the admin API, then the old one revoked",
    )
    rotate.add_argument("--service", required=True, help="the service id")
    rotate.add_argument("--key-id", required=True, help="the id of the key to replace")
    rotate.add_argument(
        "--keep-old", action="store_true", help="leave the old key active (revoke it after a grace period)"
    )
    admin_api(rotate)

    demo = add(
        "demo",
        cmd_demo,
        "a demo service, keys and templates on a running stack (what make demo does); prints JSON",
    )
    admin_api(demo, json_flag=False)
    return parser


def main(argv: Sequence[str] | None = None, *, prog: str | None = None) -> None:
    """Run one command; exits with its status. Failures are one line on stderr, never a traceback."""
    prog = prog or os.path.basename(sys.argv[0]) or "notifyctl"
    if prog not in ("notifyctl", "notify-ops", "notify-demo"):
        prog = "notifyctl"
    args = _parser(prog).parse_args(argv)
    # aio-pika logs a refused connection itself; the one line below says it already.
    for name in ("aio_pika", "aiormq"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    # The gateway sets the admin secret's rules (16+ characters outside development); PyJWT would warn on every
    # command about a secret under 32 bytes.
    warnings.filterwarnings("ignore", category=InsecureKeyLengthWarning)
    label = prog if prog == "notify-demo" else f"{prog} {args.command}"
    try:
        status = args.handler(args)
    except BrokenPipeError:  # stdout closed early (| head): not worth a message
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        status = 1
    except KeyboardInterrupt:
        print(f"{label}: interrupted", file=sys.stderr)
        status = 130
    except CtlError as exc:
        print(f"{label}: {exc}", file=sys.stderr)
        status = 1
    except AdminApiError as exc:
        print(f"{label}: {_reason(exc)}", file=sys.stderr)
        status = 1
    except httpx.HTTPError as exc:
        target = getattr(args, "base_url", None)
        print(
            f"{label}: cannot reach the admin API{f' at {target}' if target else ''}: {_reason(exc)}",
            file=sys.stderr,
        )
        status = 1
    except SQLAlchemyError as exc:
        print(
            f"{label}: database error: {_reason(getattr(exc, 'orig', None) or exc)}",
            file=sys.stderr,
        )
        status = 1
    except Exception as exc:  # one line, not a traceback (NOTIFYCTL_DEBUG=1 shows it)
        if os.environ.get("NOTIFYCTL_DEBUG"):
            raise
        print(f"{label}: {_reason(exc)}", file=sys.stderr)
        status = 1
    raise SystemExit(status)


def ops_main() -> None:
    """``notify-ops``: an alias of ``notifyctl``."""
    main(prog="notify-ops")


def demo_main() -> None:
    """``notify-demo``: an alias of ``notifyctl demo``."""
    main(["demo", *sys.argv[1:]], prog="notify-demo")


if __name__ == "__main__":
    main()
