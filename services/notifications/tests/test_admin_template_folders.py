"""Template folders (admin-api.md §6.3): a tree per service, who may see each folder, moving things about."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from .admin_helpers import error, new_service, new_user

pytestmark = pytest.mark.integration


def _folder(admin: TestClient, sid: str, name: str, parent: str | None = None) -> dict[str, Any]:
    response = admin.post(f"/service/{sid}/template-folder", json={"name": name, "parent_id": parent})
    assert response.status_code == 201, response.text
    return response.json()["data"]  # type: ignore[no-any-return]


def _template(admin: TestClient, sid: str, owner: str, **extra: Any) -> dict[str, Any]:
    body = {"name": "T", "template_type": "sms", "content": "Hi", "created_by": owner, **extra}
    response = admin.post(f"/service/{sid}/template", json=body)
    assert response.status_code == 201, response.text
    return response.json()["data"]  # type: ignore[no-any-return]


def test_folders_tree_permissions_and_moves(admin: TestClient) -> None:
    owner, member = new_user(admin), new_user(admin)
    sid = new_service(admin, owner)["id"]
    admin.post(f"/service/{sid}/users/{member['id']}", json={"permissions": ["view_activity"]})
    top = _folder(admin, sid, "Top")
    assert top["parent_id"] is None and top["users_with_permission"] == sorted([owner["id"], member["id"]])
    renamed = admin.post(
        f"/service/{sid}/template-folder/{top['id']}",
        json={"name": "Renamed", "users_with_permission": [owner["id"]]},
    )
    assert renamed.status_code == 200 and renamed.json()["data"]["users_with_permission"] == [owner["id"]]
    child = _folder(admin, sid, "Child", top["id"])
    assert child["users_with_permission"] == [owner["id"]]  # inherited from the parent
    listed = admin.get(f"/service/{sid}/template-folder").json()["template_folders"]
    assert {f["name"] for f in listed} == {"Renamed", "Child"}

    template = _template(admin, sid, owner["id"], parent_folder_id=child["id"])
    assert template["folder"] == child["id"]
    assert admin.get(f"/service/{sid}/template").json()["data"][0]["folder"] == child["id"]
    assert error(admin.delete(f"/service/{sid}/template-folder/{child['id']}"), 400) == "Folder is not empty"

    contents = f"/service/{sid}/template-folder"
    assert (
        admin.post(f"{contents}/contents", json={"templates": [template["id"]], "folders": []}).status_code
        == 204
    )
    assert admin.get(f"/service/{sid}/template/{template['id']}").json()["data"]["folder"] is None
    assert error(
        admin.post(f"{contents}/{child['id']}/contents", json={"templates": [], "folders": [top["id"]]}), 400
    ) == ("You cannot move a folder to one of its subfolders")
    assert error(
        admin.post(f"{contents}/{top['id']}/contents", json={"templates": [], "folders": [top["id"]]}), 400
    ) == ("You cannot move a folder to itself")
    assert (
        admin.post(f"{contents}/contents", json={"templates": [], "folders": [child["id"]]}).status_code
        == 204
    )
    moved = next(f for f in admin.get(contents).json()["template_folders"] if f["id"] == child["id"])
    assert moved["parent_id"] is None
    assert admin.delete(f"/service/{sid}/template-folder/{child['id']}").status_code == 204

    archived_in_folder = _template(admin, sid, owner["id"], parent_folder_id=top["id"])
    admin.post(f"/service/{sid}/template/{archived_in_folder['id']}", json={"archived": True})
    assert (
        admin.delete(f"/service/{sid}/template-folder/{top['id']}").status_code == 204
    )  # archiving emptied it


def test_folder_refusals(admin: TestClient) -> None:
    owner = new_user(admin)
    sid = new_service(admin, owner)["id"]
    base = f"/service/{sid}/template-folder"
    assert error(admin.post(base, json={"name": "x"}), 400) == {
        "parent_id": ["Missing data for required field."]
    }
    assert error(admin.post(base, json={"name": "", "parent_id": None}), 400)["name"]
    assert (
        error(admin.post(base, json={"name": "x", "parent_id": str(uuid.uuid4())}), 400)
        == "parent_id not found"
    )
    unknown = str(uuid.uuid4())
    assert error(admin.post(f"{base}/{unknown}/contents", json={"templates": [], "folders": []}), 400) == (
        f"No folder found with id {unknown} for service {sid}"
    )
    assert error(admin.post(f"{base}/contents", json={"templates": [unknown], "folders": []}), 400) == (
        f"Could not move to folder: No template found with id {unknown} for service {sid}"
    )
    assert error(admin.post(f"{base}/contents", json={"templates": []}), 400) == {
        "folders": ["Missing data for required field."]
    }
    assert error(admin.post(f"{base}/{unknown}", json={"name": "x"}), 404) == "No result found"
    assert error(admin.delete(f"{base}/{unknown}"), 404) == "No result found"
    bad_parent = {
        "name": "T",
        "template_type": "sms",
        "content": "Hi",
        "created_by": owner["id"],
        "parent_folder_id": unknown,
    }
    assert error(admin.post(f"/service/{sid}/template", json=bad_parent), 400) == "parent_folder_id not found"
