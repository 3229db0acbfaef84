"""Admin user routes through the gateway; a sign-in code travels the platform's own send path to the SMS provider
simulator, and works once."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from notify_tools.admin_client import AdminApiError, AdminClient
from notify_tools.launcher import RunningStack
from sqlalchemy import text
from sqlalchemy.engine import Engine

from .helpers import eventually


def test_user_lifecycle_and_sms_code(stack: RunningStack, db: Engine) -> None:
    admin = AdminClient(stack.base_url, stack.admin_secret)
    email = f"jane-{secrets.token_hex(4)}@example.gov.uk"
    user = admin.post(
        "/user",
        {
            "name": "Jane Smith",
            "email_address": email,
            "mobile_number": "07700900000",
            "password": "secure-password",
            "auth_type": "sms_auth",
        },
    )["data"]
    uid = user["id"]
    assert admin.post("/user/email", {"email": email})["data"]["id"] == uid
    updated = admin.post(f"/user/{uid}", {"name": "Jane Doe", "mobile_number": "07700900001"})["data"]
    assert updated["name"] == "Jane Doe"
    with pytest.raises(AdminApiError) as refused:
        admin.post(f"/user/{uid}", {"platform_admin": True})
    assert refused.value.status_code == 400

    admin.post(f"/user/{uid}/sms-code", {"to": None})

    def stored() -> Any:
        with db.connect() as conn:
            return conn.execute(
                text(
                    "SELECT body, status FROM notifications WHERE notification_type = 'sms' "
                    "AND normalised_recipient = '447700900001' ORDER BY created_at DESC LIMIT 1"
                )
            ).first()

    row = eventually(stored, lambda r: r is not None and r.status in ("sending", "delivered"))
    assert row is not None and row.status in ("sending", "delivered"), row
    code = row.body[:5]
    admin.post(f"/user/{uid}/verify/code", {"code": code, "code_type": "sms"})
    assert admin.get(f"/user/{uid}")["data"]["current_session_id"]
    with pytest.raises(AdminApiError) as used:
        admin.post(f"/user/{uid}/verify/code", {"code": code, "code_type": "sms"})
    assert used.value.status_code == 400 and used.value.body["message"] == "Code has expired"

    assert admin.post(f"/user/{uid}/archive") is None
    assert admin.get(f"/user/{uid}")["data"]["state"] == "inactive"
    admin.close()
