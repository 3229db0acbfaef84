"""Admin routes for template folders (admin-api.md §6.3): list, create, rename (and who may see it), delete an
empty one, move templates and folders. Who may see a folder is kept on each membership
(``service_users.folder_permissions``), as adding a user to a service sets it."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field
from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import Connection

from ..adapters.tables import service_users, template_folder_map, template_folders, templates
from .admin_services import load_service
from .deps import Ctx
from .errors import AdminError, not_found

router = APIRouter()
Name = Annotated[str, Field(min_length=1, max_length=255)]


class CreateFolder(BaseModel):
    name: Name
    parent_id: uuid.UUID | None  # required, may be null (top level)


class UpdateFolder(BaseModel):
    name: Name
    users_with_permission: list[uuid.UUID] | None = None


class Contents(BaseModel):
    templates: list[uuid.UUID]
    folders: list[uuid.UUID]


def folder_of(conn: Connection, template_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """``{template id: folder id}`` for those of ``template_ids`` that are in a folder."""
    if not template_ids:
        return {}
    rows = conn.execute(
        select(template_folder_map).where(template_folder_map.c.template_id.in_(template_ids))
    ).all()
    return {r.template_id: str(r.folder_id) for r in rows}


def check_folder(conn: Connection, service_id: uuid.UUID, folder_id: uuid.UUID, message: str) -> Any:
    """The service's folder, or 400 with ``message`` (a folder named in a body, not in the path)."""
    try:
        return _existing_folder(conn, service_id, folder_id)
    except AdminError as exc:
        raise AdminError(400, message) from exc


def _existing_folder(conn: Connection, service_id: uuid.UUID, folder_id: uuid.UUID) -> Any:
    """The service's folder, or 404 (a folder of another service is not found either)."""
    row = conn.execute(
        select(template_folders).where(
            template_folders.c.id == folder_id, template_folders.c.service_id == service_id
        )
    ).first()
    if row is None:
        raise not_found()
    return row


def _folder_json(row: Any, members: list[Any]) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "name": row.name,
        "parent_id": str(row.parent_id) if row.parent_id else None,
        "service_id": str(row.service_id),
        "users_with_permission": sorted(
            str(m.user_id) for m in members if row.id in (m.folder_permissions or [])
        ),
    }


def _members(conn: Connection, service_id: uuid.UUID) -> list[Any]:
    return conn.execute(
        select(service_users.c.user_id, service_users.c.folder_permissions).where(
            service_users.c.service_id == service_id
        )
    ).all()


def _grant(conn: Connection, service_id: uuid.UUID, folder_id: uuid.UUID, user_ids: list[uuid.UUID]) -> None:
    if user_ids:
        conn.execute(
            update(service_users)
            .where(service_users.c.service_id == service_id, service_users.c.user_id.in_(user_ids))
            .where(~service_users.c.folder_permissions.contains([folder_id]))
            .values(folder_permissions=func.array_append(service_users.c.folder_permissions, folder_id))
        )


def _revoke(
    conn: Connection, service_id: uuid.UUID, folder_id: uuid.UUID, keep: list[uuid.UUID] | None
) -> None:
    query = update(service_users).where(service_users.c.service_id == service_id)
    if keep is not None:
        query = query.where(service_users.c.user_id.not_in(keep))
    conn.execute(
        query.values(folder_permissions=func.array_remove(service_users.c.folder_permissions, folder_id))
    )


@router.get("/service/{service_id}/template-folder")
async def list_folders(service_id: uuid.UUID, ctx: Ctx) -> dict[str, Any]:
    def fetch(conn: Connection) -> list[dict[str, Any]]:
        load_service(conn, service_id)
        members = _members(conn, service_id)
        rows = conn.execute(
            select(template_folders)
            .where(template_folders.c.service_id == service_id)
            .order_by(template_folders.c.name, template_folders.c.id)
        )
        return [_folder_json(r, members) for r in rows]

    return {"template_folders": await ctx.db.transaction(fetch)}


@router.post("/service/{service_id}/template-folder", status_code=201)
async def create_folder(service_id: uuid.UUID, body: CreateFolder, ctx: Ctx) -> dict[str, Any]:
    """A new folder is visible to whoever sees its parent (at the top level: every member of the service)."""
    folder_id = uuid.uuid4()

    def create(conn: Connection) -> dict[str, Any]:
        load_service(conn, service_id, lock=True)
        members = _members(conn, service_id)
        if body.parent_id is not None:
            check_folder(conn, service_id, body.parent_id, "parent_id not found")
            inherit = [m.user_id for m in members if body.parent_id in (m.folder_permissions or [])]
        else:
            inherit = [m.user_id for m in members]
        conn.execute(
            template_folders.insert().values(
                id=folder_id, service_id=service_id, name=body.name.strip(), parent_id=body.parent_id
            )
        )
        _grant(conn, service_id, folder_id, inherit)
        return _folder_json(_existing_folder(conn, service_id, folder_id), _members(conn, service_id))

    return {"data": await ctx.db.transaction(create)}


@router.post("/service/{service_id}/template-folder/contents", status_code=204)
async def move_to_top(service_id: uuid.UUID, body: Contents, ctx: Ctx) -> Response:
    await ctx.db.transaction(lambda conn: _move(conn, service_id, None, body))
    return Response(status_code=204)


@router.post("/service/{service_id}/template-folder/{folder_id}/contents", status_code=204)
async def move_into(service_id: uuid.UUID, folder_id: uuid.UUID, body: Contents, ctx: Ctx) -> Response:
    await ctx.db.transaction(lambda conn: _move(conn, service_id, folder_id, body))
    return Response(status_code=204)


def _move(conn: Connection, service_id: uuid.UUID, target: uuid.UUID | None, body: Contents) -> None:
    load_service(conn, service_id, lock=True)
    if target is not None:
        check_folder(conn, service_id, target, f"No folder found with id {target} for service {service_id}")
    parents = dict(
        conn.execute(
            select(template_folders.c.id, template_folders.c.parent_id).where(
                template_folders.c.service_id == service_id
            )
        ).all()
    )
    for folder_id in body.folders:
        if folder_id not in parents:
            raise AdminError(400, f"No folder found with id {folder_id} for service {service_id}")
        if folder_id == target:
            raise AdminError(400, "You cannot move a folder to itself")
        ancestor = parents.get(target) if target is not None else None
        while ancestor is not None:
            if ancestor == folder_id:
                raise AdminError(400, "You cannot move a folder to one of its subfolders")
            ancestor = parents.get(ancestor)
        conn.execute(
            update(template_folders).where(template_folders.c.id == folder_id).values(parent_id=target)
        )
    for template_id in body.templates:
        template = conn.execute(
            select(templates.c.archived).where(
                templates.c.id == template_id, templates.c.service_id == service_id
            )
        ).first()
        if template is None:
            raise AdminError(
                400,
                f"Could not move to folder: No template found with id {template_id} for service {service_id}",
            )
        if template.archived:
            continue
        conn.execute(delete(template_folder_map).where(template_folder_map.c.template_id == template_id))
        if target is not None:
            conn.execute(template_folder_map.insert().values(template_id=template_id, folder_id=target))


@router.post("/service/{service_id}/template-folder/{folder_id}")
async def update_folder(
    service_id: uuid.UUID, folder_id: uuid.UUID, body: UpdateFolder, ctx: Ctx
) -> dict[str, Any]:
    def change(conn: Connection) -> dict[str, Any]:
        load_service(conn, service_id, lock=True)
        _existing_folder(conn, service_id, folder_id)
        conn.execute(
            update(template_folders).where(template_folders.c.id == folder_id).values(name=body.name.strip())
        )
        if body.users_with_permission is not None:
            _revoke(conn, service_id, folder_id, keep=body.users_with_permission)
            _grant(conn, service_id, folder_id, body.users_with_permission)
        return _folder_json(_existing_folder(conn, service_id, folder_id), _members(conn, service_id))

    return {"data": await ctx.db.transaction(change)}


@router.delete("/service/{service_id}/template-folder/{folder_id}", status_code=204)
async def delete_folder(service_id: uuid.UUID, folder_id: uuid.UUID, ctx: Ctx) -> Response:
    def remove(conn: Connection) -> None:
        load_service(conn, service_id, lock=True)
        _existing_folder(conn, service_id, folder_id)
        has_subfolders = conn.execute(
            select(template_folders.c.id).where(template_folders.c.parent_id == folder_id)
        ).first()
        has_templates = conn.execute(
            select(template_folder_map.c.template_id).where(template_folder_map.c.folder_id == folder_id)
        ).first()
        if has_subfolders is not None or has_templates is not None:
            raise AdminError(400, "Folder is not empty")
        _revoke(conn, service_id, folder_id, keep=None)
        conn.execute(delete(template_folders).where(template_folders.c.id == folder_id))

    await ctx.db.transaction(remove)
    return Response(status_code=204)
