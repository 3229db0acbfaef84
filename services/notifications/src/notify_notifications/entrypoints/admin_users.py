"""Admin routes for users (admin-api.md §5): register, get, get by email."""

from __future__ import annotations

import uuid
from typing import Any

from argon2 import PasswordHasher
from fastapi import APIRouter
from notify_content.errors import ContentError
from notify_content.recipients import validate_email_address, validate_phone_number
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Connection

from ..adapters.tables import service_users, services, users
from ..domain.formatting import user_json
from .deps import Ctx
from .errors import AdminError, not_found

router = APIRouter()
_hasher = PasswordHasher()


class RegisterUser(BaseModel):
    name: str
    email_address: str
    password: str
    mobile_number: str | None = None
    auth_type: str = "sms_auth"


class EmailLookup(BaseModel):
    email: str


def load_user(conn: Connection, user_id: uuid.UUID) -> dict[str, Any]:
    user = conn.execute(select(users).where(users.c.id == user_id)).first()
    if user is None:
        raise not_found()
    memberships = conn.execute(
        select(service_users.c.service_id, service_users.c.permissions, services.c.active)
        .join(services, services.c.id == service_users.c.service_id)
        .where(service_users.c.user_id == user_id)
    ).all()
    return user_json(user, list(memberships))


@router.post("/user", status_code=201)
async def register_user(body: RegisterUser, ctx: Ctx) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    if not body.name.strip():
        errors["name"] = ["Invalid name"]
    try:
        validate_email_address(body.email_address)
    except ContentError:
        errors["email_address"] = ["Not a valid email address"]
    if body.mobile_number:
        try:
            validate_phone_number(body.mobile_number)
        except ContentError as exc:
            errors["mobile_number"] = [f"Invalid phone number: {exc.message}"]
    elif body.auth_type == "sms_auth":
        errors["mobile_number"] = ["Mobile number must be set if auth_type is set to sms_auth"]
    if len(body.password) < 8:
        errors["password"] = ["Password must be at least 8 characters"]
    if errors:
        raise AdminError(400, errors)
    user_id = uuid.uuid4()
    password_hash = await ctx.db.run(_hasher.hash, body.password)

    def create(conn: Connection) -> dict[str, Any]:
        created = conn.execute(
            insert(users)
            .values(
                id=user_id,
                name=body.name.strip(),
                email_address=body.email_address.strip(),
                mobile_number=body.mobile_number,
                password_hash=password_hash,
                auth_type=body.auth_type,
            )
            .on_conflict_do_nothing()
            .returning(users.c.id)
        ).first()
        if created is None:
            raise AdminError(400, {"email_address": ["Duplicate email address"]})
        return load_user(conn, user_id)

    return {"data": await ctx.db.transaction(create)}


@router.get("/user/{user_id}")
async def get_user(user_id: uuid.UUID, ctx: Ctx) -> dict[str, Any]:
    return {"data": await ctx.db.transaction(lambda conn: load_user(conn, user_id))}


@router.post("/user/email")
async def get_user_by_email(body: EmailLookup, ctx: Ctx) -> dict[str, Any]:
    def find(conn: Connection) -> dict[str, Any]:
        user_id = conn.execute(
            select(users.c.id).where(func.lower(users.c.email_address) == body.email.strip().lower())
        ).scalar()
        if user_id is None:
            raise not_found()
        return load_user(conn, user_id)

    return {"data": await ctx.db.transaction(find)}
