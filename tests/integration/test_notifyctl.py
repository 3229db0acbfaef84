"""``notifyctl`` against the running stack, run as the installed console script the way an operator runs it:
queue depths, a service and keys made through the admin API, a key rotated (the old one refused by the public API,
the new one working, with the real client), ``make demo``, and admin API refusals as one line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from notifications_python_client.errors import HTTPError
from notifications_python_client.notifications import NotificationsAPIClient
from notify_tools.admin_client import AdminClient
from notify_tools.launcher import RunningStack

pytestmark = pytest.mark.integration

NOTIFYCTL = Path(sys.executable).parent / "notifyctl"
ROOT = Path(__file__).resolve().parents[2]


def notifyctl(stack: RunningStack, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(NOTIFYCTL), *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env={
            **os.environ,
            "AMQP_URL": stack.env["AMQP_URL"],
            "NOTIFY_BASE_URL": stack.base_url,
            "NOTIFY_ADMIN_CLIENT_SECRET": stack.admin_secret,
            **env,
        },
    )


def ok_json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def one_line_failure(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result.stdout
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def refused_within(client: NotificationsAPIClient, seconds: float) -> HTTPError:
    deadline = time.monotonic() + seconds
    while True:
        try:
            client.get_all_templates()
        except HTTPError as exc:
            return exc
        if time.monotonic() > deadline:
            pytest.fail(f"the old key still worked {seconds} s after notifyctl revoked it")
        time.sleep(0.05)


def test_queues_shows_every_queue_of_the_running_stack(stack: RunningStack) -> None:
    rows = {row["queue"]: row for row in ok_json(notifyctl(stack, "queues", "--json"))}
    assert "notifications.requested" in rows and "delivery-sms.requested" in rows
    assert all(row["exists"] and row["dead_letters"] is not None for row in rows.values()), rows
    assert rows["notifications.requested"]["consumers"] >= 1
    table = notifyctl(stack, "queues")
    assert table.returncode == 0 and table.stdout.startswith("queue ")
    assert "missing" not in table.stdout


def test_create_service_makes_a_live_service_with_a_working_key_of_each_type(
    stack: RunningStack, admin: AdminClient
) -> None:
    email = f"ops-{uuid.uuid4().hex[:8]}@example.gov.uk"
    name = f"Ops service {uuid.uuid4().hex[:8]}"
    made = ok_json(notifyctl(stack, "create-service", "--name", name, "--email", email, "--json"))
    sid = made["service_id"]
    assert (made["service_name"], made["user_email"], made["user_created"]) == (name, email, True)
    service = admin.get(f"/service/{sid}")["data"]
    assert (service["name"], service["active"], service["restricted"]) == (name, True, False)
    assert made["user_id"] in [u["id"] for u in admin.get(f"/service/{sid}/users")["data"]]
    listed = {k["id"]: k for k in admin.get(f"/service/{sid}/api-keys")["apiKeys"]}
    assert set(made["api_keys"]) == {"normal", "team", "test"}
    for key_type, key in made["api_keys"].items():
        assert listed[made["api_key_ids"][key_type]]["key_type"] == key_type
        assert NotificationsAPIClient(key, base_url=stack.base_url).get_all_templates() == {"templates": []}

    # The same address again: the existing user runs the second service.
    again = ok_json(notifyctl(stack, "create-service", "--name", f"{name} two", "--email", email, "--json"))
    assert (again["user_id"], again["user_created"]) == (made["user_id"], False)

    # The table form shows each key once; a name already taken is the admin API's 400, in one line.
    text = notifyctl(stack, "create-service", "--name", f"{name} three")
    assert text.returncode == 0, text.stderr
    assert sum(line.startswith("key ") for line in text.stdout.splitlines()) == 3
    line = one_line_failure(notifyctl(stack, "create-service", "--name", name))
    assert line.startswith("notifyctl create-service: the admin API answered 400")


def test_rotate_key_replaces_a_key_and_the_old_one_is_refused(
    stack: RunningStack, admin: AdminClient
) -> None:
    made = ok_json(notifyctl(stack, "create-service", "--name", f"Rotating {uuid.uuid4().hex[:8]}", "--json"))
    sid, old_id = made["service_id"], made["api_key_ids"]["normal"]
    assert made["user_created"] and made["user_email"].startswith(
        made["service_name"].lower().replace(" ", "-") + "-admin-"
    )
    old = NotificationsAPIClient(made["api_keys"]["normal"], base_url=stack.base_url)
    old.get_all_templates()  # the gateway has this service's keys cached now

    rotated = ok_json(notifyctl(stack, "rotate-key", "--service", sid, "--key-id", old_id, "--json"))
    assert (rotated["old_key_id"], rotated["old_key_revoked"], rotated["key_type"]) == (
        old_id,
        True,
        "normal",
    )
    assert rotated["key_name"].startswith(f"{made['service_name'].lower().replace(' ', '_')}_normal-rotated-")
    assert rotated["api_key"] not in made["api_keys"].values()

    refused = refused_within(old, 2.0)
    assert refused.status_code == 403
    assert refused.message == [{"error": "AuthError", "message": "Invalid token: API key revoked"}]
    new = NotificationsAPIClient(rotated["api_key"], base_url=stack.base_url)
    assert new.get_all_templates() == {"templates": []}
    keys = {k["id"]: k for k in admin.get(f"/service/{sid}/api-keys")["apiKeys"]}
    assert keys[old_id]["expiry_date"] is not None
    assert (keys[rotated["key_id"]]["key_type"], keys[rotated["key_id"]]["expiry_date"]) == ("normal", None)

    # Rotating the rotated key again keeps one suffix; a revoked key cannot be rotated.
    again = ok_json(notifyctl(stack, "rotate-key", "--service", sid, "--key-id", rotated["key_id"], "--json"))
    assert again["key_name"].count("-rotated-") == 1
    line = one_line_failure(notifyctl(stack, "rotate-key", "--service", sid, "--key-id", old_id))
    assert line == f"notifyctl rotate-key: no active API key {old_id} in service {sid}"


def test_rotate_key_can_keep_the_old_key_for_a_grace_period(stack: RunningStack, admin: AdminClient) -> None:
    made = ok_json(notifyctl(stack, "create-service", "--name", f"Grace {uuid.uuid4().hex[:8]}", "--json"))
    sid, old_id = made["service_id"], made["api_key_ids"]["team"]
    result = notifyctl(stack, "rotate-key", "--service", sid, "--key-id", old_id, "--keep-old")
    assert result.returncode == 0, result.stderr
    new_key = result.stdout.splitlines()[1]
    assert f"old key {old_id} left active" in result.stdout
    time.sleep(0.5)
    for key in (made["api_keys"]["team"], new_key):
        assert NotificationsAPIClient(key, base_url=stack.base_url).get_all_templates() == {"templates": []}
    keys = {k["id"]: k for k in admin.get(f"/service/{sid}/api-keys")["apiKeys"]}
    assert keys[old_id]["expiry_date"] is None
    added = [k for i, k in keys.items() if i not in made["api_key_ids"].values()]
    assert [(k["key_type"], k["expiry_date"]) for k in added] == [("team", None)]
    assert result.stdout.splitlines()[0] == f"new team key {added[0]['id']} ({added[0]['name']}):"


def test_admin_api_refusals_are_one_line(stack: RunningStack) -> None:
    line = one_line_failure(
        notifyctl(
            stack, "create-service", "--name", "Nope", NOTIFY_ADMIN_CLIENT_SECRET="not-the-secret-at-all"
        )
    )
    assert line.startswith("notifyctl create-service: the admin API answered 40")
    line = one_line_failure(
        notifyctl(stack, "rotate-key", "--service", str(uuid.uuid4()), "--key-id", str(uuid.uuid4()))
    )
    assert line.startswith("notifyctl rotate-key: ")


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_demo_prints_a_working_demo(stack: RunningStack) -> None:
    result = subprocess.run(
        ["make", "-s", "demo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={
            **os.environ,
            "NOTIFY_BASE_URL": stack.base_url,
            "NOTIFY_ADMIN_CLIENT_SECRET": stack.admin_secret,
        },
    )
    demo = ok_json(result)
    assert demo["base_url"] == stack.base_url
    assert set(demo["templates"]) == {"sms", "email", "letter"}
    client = NotificationsAPIClient(demo["api_keys"]["normal"], base_url=stack.base_url)
    assert {t["id"] for t in client.get_all_templates()["templates"]} == set(demo["templates"].values())
