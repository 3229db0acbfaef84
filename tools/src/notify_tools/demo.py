"""``make demo``: a live demo service with one key of each type and one template per channel, created through
the admin API (never by writing to a database). ``notifyctl demo`` prints it as exactly one JSON object on stdout;
``notifyctl create-service`` uses the service-and-keys part alone."""

from __future__ import annotations

import secrets
import sys
from typing import Any

from .admin_client import AdminApiError, AdminClient

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


KEY_TYPES = ("normal", "team", "test")


def find_or_create_user(
    admin: AdminClient,
    *,
    email: str | None = None,
    name: str = "Demo Admin",
    suffix: str | None = None,
    email_prefix: str = "demo-admin",
) -> tuple[dict[str, Any], bool]:
    """The user with ``email`` if there is one, else a new one (with ``email``, or a made-up address
    ``<email_prefix>-<suffix>@example.gov.uk``). Returns the user and whether it was created."""
    if email is not None:
        try:
            return admin.post("/user/email", {"email": email})["data"], False
        except AdminApiError as exc:
            if exc.status_code != 404:
                raise
    address = email or f"{email_prefix}-{suffix or secrets.token_hex(4)}@example.gov.uk"
    user = admin.post(
        "/user",
        {
            "name": name,
            "email_address": address,
            "password": secrets.token_urlsafe(16),
            "mobile_number": "07700900001",
        },
    )["data"]
    return user, True


def create_service_with_keys(
    admin: AdminClient,
    *,
    name: str,
    user: dict[str, Any],
    key_prefix: str,
    sms_message_limit: int = 250000,
    rate_limit: int = 3000,
) -> dict[str, Any]:
    """A live service run by ``user`` with one API key of each type (``<key_prefix>_<type>``), through the admin
    API. Returns ``service_id``, ``service_name``, ``api_keys`` (type → the full Notify-format key string, shown
    only now) and ``api_key_ids`` (type → key id)."""
    service = admin.post(
        "/service",
        {
            "name": name,
            "user_id": user["id"],
            "created_by": user["id"],
            "email_message_limit": 250000,
            "sms_message_limit": sms_message_limit,
            "letter_message_limit": 20000,
            "rate_limit": rate_limit,
            "restricted": False,
        },
    )["data"]
    sid = service["id"]
    keys, key_ids = {}, {}
    for key_type in KEY_TYPES:
        created = admin.post(
            f"/service/{sid}/api-key",
            {"name": f"{key_prefix}_{key_type}", "key_type": key_type, "created_by": user["id"]},
        )["api_key"]
        keys[key_type] = created["key"]
        key_ids[key_type] = created["id"]
    return {"service_id": sid, "service_name": service["name"], "api_keys": keys, "api_key_ids": key_ids}


def create_demo(
    base_url: str,
    admin_secret: str,
    *,
    suffix: str | None = None,
    sms_message_limit: int = 250000,
    rate_limit: int = 3000,
) -> dict[str, Any]:
    suffix = suffix or secrets.token_hex(4)
    admin = AdminClient(base_url, admin_secret)
    try:
        user, _ = find_or_create_user(admin, suffix=suffix)
        made = create_service_with_keys(
            admin,
            name=f"Demo service {suffix}",
            user=user,
            key_prefix="demo",
            sms_message_limit=sms_message_limit,
            rate_limit=rate_limit,
        )
        sid = made["service_id"]
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
        "api_keys": made["api_keys"],
        "templates": templates,
    }


def main() -> None:
    """``notify-demo``: kept as an alias of ``notifyctl demo``."""
    from .notifyctl import main as notifyctl

    notifyctl(["demo", *sys.argv[1:]], prog="notify-demo")


if __name__ == "__main__":
    main()
