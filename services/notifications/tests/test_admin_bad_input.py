"""No admin route answers bad input with a 500: every route, with unknown ids, malformed ids and bodies that are
missing, not JSON, of the wrong JSON type or full of the wrong types."""

from __future__ import annotations

import re
import uuid

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from notify_notifications.bootstrap import admin_routers

from .admin_helpers import new_service, new_user

pytestmark = pytest.mark.integration

BODIES: list[bytes | None] = [
    None,
    b"not json",
    b"[]",
    b"null",
    b'"text"',
    b"{}",
    b'{"name": 5, "permissions": "all", "email_address": [], "to": {}, "template_id": 3, "page": "x"}',
    b'{"name": null, "content": null, "is_default": "maybe", "folders": [1], "templates": ["x"]}',
]


def _routes() -> list[tuple[str, str]]:
    found = []
    for router in admin_routers():
        for route in router.routes:
            if isinstance(route, APIRoute):
                found += [(method, route.path) for method in sorted(route.methods)]
    return found


@pytest.mark.parametrize(("method", "path"), _routes())
def test_no_route_answers_bad_input_with_a_500(admin: TestClient, method: str, path: str) -> None:
    owner = new_user(admin)
    sid = new_service(admin, owner)["id"]
    fillings = [
        {"service_id": sid, "user_id": owner["id"]},  # real service and user, other ids unknown
        {},  # every id unknown
    ]
    for filling in fillings:
        for malformed in (False, True):
            url = re.sub(
                r"\{(\w+)\}",
                lambda m, f=filling, bad=malformed: (
                    "not-an-id" if bad else f.get(m.group(1), str(uuid.uuid4()))
                ),
                path,
            )
            for body in BODIES:
                headers = {"content-type": "application/json"} if body is not None else {}
                response = admin.request(
                    method, url, content=body, headers=headers, params={"year": "x", "limit_days": "-3"}
                )
                assert response.status_code < 500, (method, url, body, response.text)
