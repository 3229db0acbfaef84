"""Admin routes for who belongs to a service and who it may send to in trial mode (admin-api.md §4.2, seed 004):
its users, adding and removing one, and the guest list."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Response
from notify_content.errors import ContentError
from notify_content.recipients import validate_email_address, validate_phone_number
from pydantic import BaseModel
from sqlalchemy import delete, func, select
from sqlalchemy.engine import Connection

from ..adapters.tables import guest_list, service_users, services, users
from ..domain.formatting import service_json, user_json
from ..domain.permissions import PermissionError_, db_permissions
from .admin_services import announce, load_service
from .deps import Ctx
from .errors import AdminError, not_found

router = APIRouter()


class AddUser(BaseModel):
    # Items are ``{"permission": name}`` (the API's form) or bare names; names are DB permissions or the admin's
    # UI roles (``send_messages`` …), which are translated.
    permissions: list[dict[str, str] | str]
    folder_permissions: list[uuid.UUID] = []


class GuestList(BaseModel):
    email_addresses: list[str]
    phone_numbers: list[str]


def _members(conn: Connection, service_id: uuid.UUID) -> list[Any]:
    return conn.execute(
        select(users, service_users.c.permissions.label("service_permissions"))
        .join(service_users, service_users.c.user_id == users.c.id)
        .where(service_users.c.service_id == service_id)
        .order_by(users.c.created_at, users.c.id)
    ).all()


def _member_json(conn: Connection, member: Any, service_id: uuid.UUID) -> dict[str, Any]:
    memberships = conn.execute(
        select(service_users.c.service_id, service_users.c.permissions, services.c.active)
        .join(services, services.c.id == service_users.c.service_id)
        .where(service_users.c.user_id == member.id)
    ).all()
    result = user_json(member, list(memberships))
    # Seed 004 shows this service's permissions as a list; the full map stays under permissions_by_service.
    result["permissions_by_service"] = result["permissions"]
    result["permissions"] = list(member.service_permissions)
    return result


@router.get("/service/{service_id}/users")
async def service_users_list(service_id: uuid.UUID, ctx: Ctx) -> dict[str, Any]:
    def fetch(conn: Connection) -> list[dict[str, Any]]:
        load_service(conn, service_id)
        return [_member_json(conn, m, service_id) for m in _members(conn, service_id)]

    return {"data": await ctx.db.transaction(fetch)}


@router.post("/service/{service_id}/users/{user_id}", status_code=201)
async def add_user_to_service(
    service_id: uuid.UUID, user_id: uuid.UUID, body: AddUser, ctx: Ctx
) -> dict[str, Any]:
    """Returns the service (the reference's answer) with its ``users`` (the seed's)."""
    try:
        permissions = db_permissions(body.permissions)
    except PermissionError_ as exc:
        raise AdminError(400, {"permissions": [str(exc)]}) from exc

    def add(conn: Connection) -> dict[str, Any]:
        service = load_service(conn, service_id)
        if conn.execute(select(users.c.id).where(users.c.id == user_id)).first() is None:
            raise not_found()
        already = conn.execute(
            select(service_users.c.user_id).where(
                service_users.c.service_id == service_id, service_users.c.user_id == user_id
            )
        ).first()
        if already is not None:
            raise AdminError(400, f"User id: {user_id} already part of service id: {service_id}")
        conn.execute(
            service_users.insert().values(
                service_id=service_id,
                user_id=user_id,
                permissions=permissions,
                folder_permissions=list(dict.fromkeys(body.folder_permissions)),
            )
        )
        announce(conn, service_id, "users_changed")
        members = _members(conn, service_id)
        return {**service_json(service), "users": [{"id": str(m.id), "name": m.name} for m in members]}

    result = await ctx.db.transaction(add)
    ctx.published()
    return {"data": result}


@router.delete("/service/{service_id}/users/{user_id}", status_code=204)
async def remove_user_from_service(service_id: uuid.UUID, user_id: uuid.UUID, ctx: Ctx) -> Response:
    def remove(conn: Connection) -> None:
        load_service(conn, service_id, lock=True)
        member = conn.execute(
            select(service_users.c.user_id).where(
                service_users.c.service_id == service_id, service_users.c.user_id == user_id
            )
        ).first()
        if member is None:
            raise not_found("User not found in service")  # seed 004's words (the reference: "User not found")
        count = conn.execute(
            select(func.count()).select_from(service_users).where(service_users.c.service_id == service_id)
        ).scalar_one()
        if count <= 1:
            raise AdminError(400, "Cannot remove the only user from a service")
        conn.execute(
            delete(service_users).where(
                service_users.c.service_id == service_id, service_users.c.user_id == user_id
            )
        )
        announce(conn, service_id, "users_changed")

    await ctx.db.transaction(remove)
    ctx.published()
    return Response(status_code=204)


@router.get("/service/{service_id}/guest-list")
async def get_guest_list(service_id: uuid.UUID, ctx: Ctx) -> dict[str, list[str]]:
    """Bare (no ``data``), as both the seed and the reference show it."""

    def fetch(conn: Connection) -> dict[str, list[str]]:
        load_service(conn, service_id)
        rows = conn.execute(
            select(guest_list.c.recipient_type, guest_list.c.recipient)
            .where(guest_list.c.service_id == service_id)
            .order_by(guest_list.c.recipient)
        ).all()
        return {
            "email_addresses": [r.recipient for r in rows if r.recipient_type == "email"],
            "phone_numbers": [r.recipient for r in rows if r.recipient_type == "mobile"],
        }

    return await ctx.db.transaction(fetch)


def _invalid_guest(value: str) -> AdminError:
    return AdminError(400, f'Invalid guest list: "{value}" is not a valid email address or phone number')


@router.put("/service/{service_id}/guest-list", status_code=204)
async def put_guest_list(service_id: uuid.UUID, body: GuestList, ctx: Ctx) -> Response:
    """Replaces the whole list; one invalid entry and nothing changes."""
    entries: dict[tuple[str, str], None] = {}
    for value in body.email_addresses:
        try:
            entries[("email", validate_email_address(value).submitted)] = None
        except ContentError as exc:
            raise _invalid_guest(value) from exc
    for value in body.phone_numbers:
        try:
            validate_phone_number(value)
        except ContentError as exc:
            raise _invalid_guest(value) from exc
        entries[("mobile", value.strip())] = None

    def replace(conn: Connection) -> None:
        load_service(conn, service_id, lock=True)
        conn.execute(delete(guest_list).where(guest_list.c.service_id == service_id))
        if entries:
            conn.execute(
                guest_list.insert(),
                [
                    {"id": uuid.uuid4(), "service_id": service_id, "recipient_type": kind, "recipient": value}
                    for kind, value in entries
                ],
            )
        announce(conn, service_id, "guest_list_changed")

    await ctx.db.transaction(replace)
    ctx.published()
    return Response(status_code=204)
