"""``make demo``: a live demo service with one key of each type and one template per channel, created through
the admin API (never by writing to a database). Prints exactly one JSON object on stdout."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
from typing import Any

from notify_platform.settings import DEVELOPMENT_ADMIN_SECRET

from .admin_client import AdminClient

TEMPLATES = {
    "sms": {"name": "Demo text message", "content": "Hello ((name)), your reference is ((reference))."},
    "email": {
        "name": "Demo email",
        "subject": "Your ((thing)) is ready",
        "content": "# Hello ((name))\n\nYour ((thing)) is ready to collect.\n\n* Bring ID\n* Bring your reference",
    },
    "letter": {
        "name": "Demo letter",
        "subject": "About your ((thing))",
        "content": "Dear ((name)),\n\nYour ((thing)) has been approved.",
    },
}


def create_demo(
    base_url: str, admin_secret: str, *, suffix: str | None = None, sms_message_limit: int = 250000
) -> dict[str, Any]:
    suffix = suffix or secrets.token_hex(4)
    admin = AdminClient(base_url, admin_secret)
    try:
        user = admin.post(
            "/user",
            {
                "name": "Demo Admin",
                "email_address": f"demo-admin-{suffix}@example.gov.uk",
                "password": secrets.token_urlsafe(16),
                "mobile_number": "07700900001",
            },
        )["data"]
        service = admin.post(
            "/service",
            {
                "name": f"Demo service {suffix}",
                "user_id": user["id"],
                "created_by": user["id"],
                "email_message_limit": 250000,
                "sms_message_limit": sms_message_limit,
                "letter_message_limit": 20000,
                "restricted": False,
            },
        )["data"]
        sid = service["id"]
        keys = {}
        for key_type in ("normal", "team", "test"):
            name = f"demo_{key_type}"
            secret = admin.post(
                f"/service/{sid}/api-key", {"name": name, "key_type": key_type, "created_by": user["id"]}
            )["data"]
            keys[key_type] = f"{name}-{sid}-{secret}"
        templates = {}
        for kind, spec in TEMPLATES.items():
            body = {**spec, "template_type": kind, "service": sid, "created_by": user["id"]}
            templates[kind] = admin.post(f"/service/{sid}/template", body)["data"]["id"]
    finally:
        admin.close()
    return {
        "base_url": base_url,
        "service_id": sid,
        "user_id": user["id"],
        "api_keys": keys,
        "templates": templates,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="notify-demo", description=__doc__)
    parser.add_argument("--base-url", default=os.environ.get("NOTIFY_BASE_URL", "http://localhost:6011"))
    args = parser.parse_args()
    secret = os.environ.get("NOTIFY_ADMIN_CLIENT_SECRET", DEVELOPMENT_ADMIN_SECRET)
    try:
        result = create_demo(args.base_url, secret)
    except Exception as exc:  # a clear one-line reason, not a traceback, for a stack that is not running
        print(f"make demo failed: {exc}", file=sys.stderr)
        raise SystemExit(1) from exc
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
