"""A one-off send from the admin API takes the public send path (checks, limits, confirmed publish) and shows up
in the service's notifications with who sent it; the admin notification list and search through the gateway."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

import pytest
from notifications_python_client.notifications import NotificationsAPIClient
from notify_tools.admin_client import AdminApiError, AdminClient
from notify_tools.launcher import RunningStack

from .helpers import eventually


def test_one_off_send_and_the_notification_list(stack: RunningStack, demo: dict[str, Any]) -> None:
    admin = AdminClient(stack.base_url, stack.admin_secret)
    sid = demo["service_id"]
    owner = admin.get(f"/service/{sid}")["data"]["created_by"]
    sent = admin.post(
        f"/service/{sid}/send-notification",
        {
            "template_id": demo["templates"]["email"],
            "to": "recipient@example.gov.uk",
            "personalisation": {"name": "John", "thing": "parcel"},
            "created_by": owner,
        },
    )
    nid = sent["id"]
    uuid.UUID(nid)

    def stored() -> dict[str, Any] | None:
        found = admin.post(
            f"/service/{sid}/notifications", {"to": "recipient@example.gov.uk", "template_type": "email"}
        )
        return next((n for n in found["notifications"] if n["id"] == nid), None)

    notification = eventually(stored, lambda n: n is not None)
    assert notification is not None
    assert (
        notification["created_by"]["id"] == owner
        and notification["template"]["id"] == demo["templates"]["email"]
    )
    public = NotificationsAPIClient(demo["api_keys"]["normal"], base_url=stack.base_url)
    assert public.get_notification_by_id(nid)["created_by_name"] == notification["created_by"]["name"]
    listed = admin.get(f"/service/{sid}/notifications", {"template_type": "email", "page_size": 5})
    assert listed["page_size"] == 5

    sms = admin.post(
        f"/service/{sid}/send-notification",
        {
            "template_id": demo["templates"]["sms"],
            "to": "07700 900123",
            "personalisation": {"name": "Ada", "reference": "R"},
            "created_by": owner,
        },
    )
    assert sms["id"]

    stranger = admin.post(
        "/user",
        {
            "name": "Stranger",
            "email_address": f"stranger-{secrets.token_hex(3)}@example.gov.uk",
            "password": secrets.token_urlsafe(12),
            "mobile_number": "07700900222",
        },
    )["data"]
    cases = [
        ({"to": "x@example.gov.uk", "created_by": owner}, 400),  # no template_id
        ({"template_id": demo["templates"]["email"], "to": "not-an-email", "created_by": owner}, 400),
        (
            {
                "template_id": demo["templates"]["email"],
                "to": "x@example.gov.uk",
                "created_by": stranger["id"],
            },
            400,
        ),
        ({"template_id": str(uuid.uuid4()), "to": "x@example.gov.uk", "created_by": owner}, 404),
        (
            {
                "template_id": demo["templates"]["email"],
                "to": "x@example.gov.uk",
                "created_by": owner,
                "sender_id": str(uuid.uuid4()),
                "personalisation": {"name": "a", "thing": "b"},
            },
            400,
        ),
        (  # U+0000 could never be stored: refused, as on the v2 routes, not accepted and lost
            {
                "template_id": demo["templates"]["email"],
                "to": "x@example.gov.uk",
                "created_by": owner,
                "personalisation": {"name": "a\x00", "thing": "b"},
            },
            400,
        ),
    ]
    for body, status in cases:
        with pytest.raises(AdminApiError) as refused:
            admin.post(f"/service/{sid}/send-notification", body)
        assert refused.value.status_code == status, (body, refused.value.body)
        assert refused.value.body["result"] == "error"
    with pytest.raises(AdminApiError) as unknown:
        admin.post(
            f"/service/{uuid.uuid4()}/send-notification", cases[1][0] | {"template_id": str(uuid.uuid4())}
        )
    assert unknown.value.status_code == 404
    admin.close()


def test_one_off_send_refusals(stack: RunningStack, demo: dict[str, Any]) -> None:
    admin = AdminClient(stack.base_url, stack.admin_secret)
    sid = demo["service_id"]
    owner = admin.get(f"/service/{sid}")["data"]["created_by"]

    def send(service_id: str, created_by: str) -> AdminApiError:
        body = {
            "template_id": demo["templates"]["sms"],
            "to": "07700 900123",
            "personalisation": {"name": "Ada", "reference": "R"},
            "created_by": created_by,
        }
        with pytest.raises(AdminApiError) as refused:
            admin.post(f"/service/{service_id}/send-notification", body)
        return refused.value

    unknown = send(str(uuid.uuid4()), owner)
    assert (unknown.status_code, unknown.body["message"]) == (404, "No result found")
    stranger = str(uuid.uuid4())
    outsider = send(sid, stranger)
    name = admin.get(f"/service/{sid}")["data"]["name"]
    assert (outsider.status_code, outsider.body["message"]) == (
        400,
        f'Can’t create notification - {stranger} is not part of the "{name}" service',
    )
    archived = admin.post(
        "/service",
        {
            "name": f"Archived {secrets.token_hex(4)}",
            "user_id": owner,
            "created_by": owner,
            "restricted": False,
        },
    )["data"]["id"]
    admin.post(f"/service/{archived}/archive")
    inactive = send(archived, owner)
    assert (inactive.status_code, inactive.body["message"]) == (403, "Service is not active")
