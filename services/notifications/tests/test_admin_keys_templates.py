"""Admin API-key routes (seed 000's ApiKeyApiClient) and template routes (admin-api.md §6)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from notify_notifications.adapters.tables import api_keys
from notify_platform.db import Database
from sqlalchemy import select

from .admin_helpers import error, new_service, new_user

pytestmark = pytest.mark.integration


def _owner_and_service(admin: TestClient, **service: Any) -> tuple[dict[str, Any], str]:
    owner = new_user(admin)
    return owner, new_service(admin, owner, **service)["id"]


def test_create_api_key_with_the_seed_000_call(admin: TestClient, admin_db: Database) -> None:
    owner, sid = _owner_and_service(admin)
    for key_type in ("normal", "team", "test"):
        body = {"key_name": "ignored", "name": f"Production API Key {key_type}", "key_type": key_type}
        response = admin.post(f"/service/{sid}/api-key", json={**body, "created_by": owner["id"]})
        assert response.status_code == 201, response.text
        answer = response.json()
        secret = answer["data"]
        assert isinstance(secret, str) and len(secret) == 36
        assert answer["api_key"]["secret"] == secret and answer["api_key"]["key_type"] == key_type
        assert answer["api_key"]["key"] == f"Production API Key {key_type}-{sid}-{secret}"
    listed = admin.get(f"/service/{sid}/api-keys").json()["apiKeys"]
    assert [k["key_type"] for k in listed] == ["normal", "team", "test"]
    assert all("secret" not in k for k in listed)
    with admin_db.engine.connect() as conn:
        stored = conn.execute(
            select(api_keys.c.secret_encrypted).where(api_keys.c.service_id == uuid.UUID(sid))
        )
        assert all(secret.encode() not in bytes(row.secret_encrypted) for row in stored)
    one = admin.get(f"/service/{sid}/api-keys/{listed[0]['id']}").json()["apiKeys"]
    assert one == [listed[0]]


def test_api_key_refusals(admin: TestClient) -> None:
    owner, sid = _owner_and_service(admin)
    path = f"/service/{sid}/api-key"
    assert error(admin.post(path, json={"name": "k", "created_by": owner["id"]}), 400) == {
        "key_type": ["Missing data for required field."]
    }
    assert error(admin.post(path, json={"name": "k", "key_type": "root", "created_by": owner["id"]}), 400)[
        "key_type"
    ]
    assert error(
        admin.post(path, json={"name": "k", "key_type": "test", "created_by": str(uuid.uuid4())}), 400
    )["created_by"]
    admin.post(path, json={"name": "k", "key_type": "test", "created_by": owner["id"]})
    assert error(
        admin.post(path, json={"name": "k", "key_type": "test", "created_by": owner["id"]}), 400
    ) == {"name": ["Duplicate key name 'k'"]}
    unknown = {"name": "k", "key_type": "test", "created_by": owner["id"]}
    assert error(admin.post(f"/service/{uuid.uuid4()}/api-key", json=unknown), 404) == "No result found"
    assert (
        error(admin.get(f"/service/{sid}/api-keys/{uuid.uuid4()}"), 404) == f"API key not found for id: {sid}"
    )


def test_revoke_api_key(admin: TestClient) -> None:
    owner, sid = _owner_and_service(admin)
    admin.post(f"/service/{sid}/api-key", json={"name": "k", "key_type": "normal", "created_by": owner["id"]})
    key_id = admin.get(f"/service/{sid}/api-keys").json()["apiKeys"][0]["id"]
    response = admin.post(f"/service/{sid}/api-key/revoke/{key_id}", json={"created_by": owner["id"]})
    assert response.status_code == 202 and response.json() is None
    revoked = admin.get(f"/service/{sid}/api-keys").json()["apiKeys"][0]
    assert revoked["expiry_date"] is not None
    assert admin.post(f"/service/{sid}/api-key/revoke/{key_id}").status_code == 202
    assert admin.get(f"/service/{sid}/api-keys").json()["apiKeys"][0]["expiry_date"] == revoked["expiry_date"]
    assert error(admin.get(f"/service/{sid}/api-keys/{key_id}"), 404)
    assert error(admin.post(f"/service/{sid}/api-key/revoke/{uuid.uuid4()}"), 404) == "No result found"
    # The name of a revoked key can be used again.
    again = {"name": "k", "key_type": "normal", "created_by": owner["id"]}
    assert admin.post(f"/service/{sid}/api-key", json=again).status_code == 201


def _create(admin: TestClient, sid: str, owner: dict[str, Any], **body: Any) -> Any:
    return admin.post(f"/service/{sid}/template", json={"created_by": owner["id"], "service": sid, **body})


def test_templates_per_channel(admin: TestClient) -> None:
    owner, sid = _owner_and_service(admin)
    sms = _create(admin, sid, owner, name="Text", template_type="sms", content="Hi ((name))")
    email = _create(
        admin, sid, owner, name="Email", template_type="email", content="Body", subject="Hello ((name))"
    )
    letter = _create(
        admin, sid, owner, name="Letter", template_type="letter", content="Dear", subject="About"
    )
    first = _create(
        admin, sid, owner, name="First", template_type="letter", content="D", subject="S", postage="first"
    )
    for response in (sms, email, letter, first):
        assert response.status_code == 201, response.text
    assert sms.json()["data"]["subject"] is None and sms.json()["data"]["postage"] is None
    assert email.json()["data"]["subject"] == "Hello ((name))" and email.json()["data"]["postage"] is None
    assert letter.json()["data"]["postage"] == "second" and first.json()["data"]["postage"] == "first"
    listed = admin.get(f"/service/{sid}/template").json()["data"]
    assert [t["name"] for t in listed] == ["Email", "First", "Letter", "Text"]
    assert {"id", "name", "template_type", "folder", "is_precompiled_letter"} <= set(listed[0])


def test_template_refusals(admin: TestClient) -> None:
    owner, sid = _owner_and_service(admin, permissions=["sms", "email"])
    assert error(_create(admin, sid, owner, name="E", template_type="email", content="B"), 400) == {
        "subject": ["Missing data for required field."]
    }
    assert error(_create(admin, sid, owner, name="S", template_type="sms", content="B", subject="x"), 400)[
        "subject"
    ]
    assert error(
        _create(admin, sid, owner, name="S", template_type="sms", content="B", postage="first"), 400
    ) == {"postage": ["Only letter templates have postage"]}
    assert error(
        _create(admin, sid, owner, name="L", template_type="letter", content="B", subject="S"), 403
    ) == {"template_type": ["Creating letter templates is not allowed"]}
    assert error(_create(admin, sid, owner, name="S", template_type="sms", content="x" * 919), 400) == {
        "content": ["Content has a character count greater than the limit of 918"]
    }
    assert error(_create(admin, sid, owner, name="S", template_type="fax", content="B"), 400)["template_type"]
    assert error(_create(admin, sid, owner, name="S", template_type="sms", content=""), 400)["content"]
    assert error(
        _create(admin, sid, owner, name="S", template_type="sms", content="B", service=str(uuid.uuid4())), 400
    )
    stranger = {"id": str(uuid.uuid4())}
    assert error(_create(admin, sid, stranger, name="S", template_type="sms", content="B"), 400)["created_by"]
    assert error(admin.get(f"/service/{sid}/template/{uuid.uuid4()}"), 404) == "No result found"


def test_every_edit_is_a_new_version_and_old_ones_stay_readable(admin: TestClient) -> None:
    owner, sid = _owner_and_service(admin)
    editor = new_user(admin, name="Editor")
    tid = _create(admin, sid, owner, name="T", template_type="email", content="v1", subject="S").json()[
        "data"
    ]["id"]
    path = f"/service/{sid}/template/{tid}"
    same = admin.post(path, json={"content": "v1"}).json()["data"]
    assert same["version"] == 1
    edited = admin.post(path, json={"content": "v2", "created_by": editor["id"], "unknown_admin_key": 1})
    assert edited.status_code == 200, edited.text
    assert edited.json()["data"]["version"] == 2 and edited.json()["data"]["created_by"] == editor["id"]
    assert admin.get(path).json()["data"]["content"] == "v2"
    v1 = admin.get(f"{path}/version/1").json()["data"]
    assert v1["content"] == "v1" and v1["created_by"]["id"] == owner["id"]
    assert v1["created_by"]["email_address"] == owner["email_address"]
    versions = admin.get(f"{path}/versions").json()["data"]
    assert [v["version"] for v in versions] == [2, 1]
    assert error(admin.get(f"{path}/version/3"), 404) == "No result found"
    assert error(admin.post(path, json={"subject": ""}), 400)["subject"]
    assert error(admin.post(path, json={"postage": "first"}), 400) == {
        "postage": ["Only letter templates have postage"]
    }
    assert error(admin.post(path, json={"archived": "maybe"}), 400)["archived"]
    archived = admin.post(path, json={"archived": True}).json()["data"]
    assert archived["archived"] is True and archived["version"] == 3
    assert tid not in [t["id"] for t in admin.get(f"/service/{sid}/template").json()["data"]]
    assert error(admin.post(f"/service/{sid}/template/{uuid.uuid4()}", json={"name": "x"}), 404)


def test_preview(admin: TestClient) -> None:
    owner, sid = _owner_and_service(admin)
    tid = _create(
        admin,
        sid,
        owner,
        name="P",
        template_type="email",
        content="Dear ((name)), ((thing))",
        subject="Re ((Thing))",
    ).json()["data"]["id"]
    path = f"/service/{sid}/template/{tid}/preview"
    preview = admin.get(path, params={"name": "Ada", "thing": "your licence"})
    assert preview.status_code == 200, preview.text
    assert preview.json()["content"] == "Dear Ada, your licence"
    assert preview.json()["subject"] == "Re your licence"
    assert error(admin.get(path, params={"name": "Ada"}), 400) == {
        "template": ["Missing personalisation: Thing"]
    }


def test_precompiled_template_is_made_once_and_never_listed(admin: TestClient) -> None:
    owner, sid = _owner_and_service(admin)
    first = admin.get(f"/service/{sid}/template/precompiled")
    assert first.status_code == 200, first.text
    template = first.json()
    assert template["is_precompiled_letter"] is True and template["hidden"] is True
    assert admin.get(f"/service/{sid}/template/precompiled").json()["id"] == template["id"]
    assert template["id"] not in [t["id"] for t in admin.get(f"/service/{sid}/template").json()["data"]]
    assert error(admin.get(f"/service/{uuid.uuid4()}/template/precompiled"), 404) == "No result found"


def test_letter_template_contact_block_is_chosen_without_a_new_version(
    admin: TestClient, admin_db: Database
) -> None:
    from notify_notifications.adapters.tables import template_versions

    owner, sid = _owner_and_service(admin)
    letter = _create(admin, sid, owner, name="L", template_type="letter", content="Dear", subject="S").json()[
        "data"
    ]
    sms = _create(admin, sid, owner, name="S", template_type="sms", content="Hi").json()["data"]
    contact = admin.post(
        f"/service/{sid}/letter-contact", json={"contact_block": "The Office\nLondon", "is_default": True}
    ).json()["data"]
    path = f"/service/{sid}/template/{letter['id']}"
    chosen = admin.post(path, json={"reply_to": contact["id"], "name": "ignored"})
    assert chosen.status_code == 200, chosen.text
    data = chosen.json()["data"]
    assert data["reply_to"] == contact["id"] and data["reply_to_text"] == "The Office\nLondon"
    assert data["version"] == 1 and data["name"] == "L"
    admin.post(
        f"/service/{sid}/letter-contact/{contact['id']}",
        json={"contact_block": "New Office", "is_default": True},
    )
    assert admin.get(path).json()["data"]["reply_to_text"] == "New Office"
    with admin_db.engine.connect() as conn:
        printed = conn.execute(
            select(template_versions.c.letter_contact_block).where(
                template_versions.c.id == uuid.UUID(letter["id"])
            )
        ).scalar_one()
    assert printed == "New Office"  # what a letter of this version is printed with
    assert admin.post(path, json={"content": "Dear you"}).json()["data"]["reply_to"] == contact["id"]
    assert admin.post(path, json={"reply_to": None}).json()["data"]["reply_to"] is None
    assert error(admin.post(path, json={"reply_to": str(uuid.uuid4())}), 400)["reply_to"]
    assert error(admin.post(f"/service/{sid}/template/{sms['id']}", json={"reply_to": contact["id"]}), 400)[
        "reply_to"
    ]


def test_redacting_personalisation_cannot_be_undone(admin: TestClient) -> None:
    owner, sid = _owner_and_service(admin)
    tid = _create(admin, sid, owner, name="R", template_type="sms", content="Hi ((name))").json()["data"][
        "id"
    ]
    path = f"/service/{sid}/template/{tid}"
    assert error(admin.post(path, json={"redact_personalisation": True}), 400) == {
        "created_by": ["Field is required"]
    }
    redacted = admin.post(path, json={"redact_personalisation": True, "created_by": owner["id"]})
    assert redacted.status_code == 200 and redacted.json() is None
    got = admin.get(path).json()["data"]
    assert got["redact_personalisation"] is True and got["version"] == 1
    undo = {"redact_personalisation": False, "created_by": owner["id"]}
    assert error(admin.post(path, json=undo), 400)["redact_personalisation"]
