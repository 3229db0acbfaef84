"""Admin routes the admin app signs users in with (admin-api.md §5.2): check and change a password, activate a new
user, reset the failed-login count, find users by part of their email address. Passwords are argon2id hashes and
are never returned or logged."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import APIRouter, Response
from pydantic import BaseModel
from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection

from ..adapters.tables import service_users, services, users
from .admin_users import MIN_PASSWORD_LENGTH, hasher, load_user
from .deps import Ctx
from .errors import AdminError, not_found

router = APIRouter()


class FindByEmail(BaseModel):
    email: str


def _hash_of(conn: Connection, user_id: uuid.UUID) -> str:
    found = conn.execute(select(users.c.password_hash).where(users.c.id == user_id)).first()
    if found is None:
        raise not_found()
    return str(found.password_hash)


def _matches(password_hash: str, password: str) -> bool:
    try:
        return bool(hasher.verify(password_hash, password))
    except (VerificationError, InvalidHashError):
        return False


@router.post("/user/find-users-by-email")
async def find_users_by_email(body: FindByEmail, ctx: Ctx) -> dict[str, Any]:
    """Substring search, case-insensitive (wildcards in the search are taken literally)."""
    if not body.email.strip():
        raise AdminError(400, {"email": ["Missing data for required field."]})
    escaped = body.email.strip().lower().replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")

    def fetch(conn: Connection) -> list[dict[str, Any]]:
        rows = conn.execute(
            select(users.c.id, users.c.name, users.c.email_address, users.c.mobile_number)
            .where(func.lower(users.c.email_address).like(f"%{escaped}%", escape="\\"))
            .order_by(users.c.email_address)
            .limit(100)
        )
        return [
            {
                "id": str(r.id),
                "name": r.name,
                "email_address": r.email_address,
                "mobile_number": r.mobile_number,
            }
            for r in rows
        ]

    return {"data": await ctx.db.transaction(fetch)}


@router.post("/user/{user_id}/verify/password", status_code=204)
async def verify_password(user_id: uuid.UUID, body: dict[str, Any], ctx: Ctx) -> Response:
    password = body.get("password")
    if not isinstance(password, str) or not password:
        raise AdminError(400, {"password": ["Required field missing data"]})
    password_hash = await ctx.db.transaction(lambda conn: _hash_of(conn, user_id))
    if await ctx.db.run(_matches, password_hash, password):
        return Response(status_code=204)
    await ctx.db.transaction(
        lambda conn: conn.execute(
            update(users)
            .where(users.c.id == user_id)
            .values(failed_login_count=users.c.failed_login_count + 1)
        )
    )
    raise AdminError(400, {"password": ["Incorrect password"]})


@router.post("/user/{user_id}/update-password")
async def update_password(user_id: uuid.UUID, body: dict[str, Any], ctx: Ctx) -> dict[str, Any]:
    password = body.get("_password")
    if not isinstance(password, str) or not password:
        raise AdminError(400, {"_password": ["Missing data for required field."]})
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AdminError(400, {"_password": [f"Password must be at least {MIN_PASSWORD_LENGTH} characters"]})
    password_hash = await ctx.db.run(hasher.hash, password)

    def change(conn: Connection) -> dict[str, Any]:
        done = conn.execute(
            update(users)
            .where(users.c.id == user_id)
            .values(
                password_hash=password_hash,
                password_changed_at=datetime.now(UTC),
                updated_at=datetime.now(UTC),
            )
            .returning(users.c.id)
        ).first()
        if done is None:
            raise not_found()
        return load_user(conn, user_id)

    return {"data": await ctx.db.transaction(change)}


@router.post("/user/{user_id}/activate")
async def activate_user(user_id: uuid.UUID, ctx: Ctx) -> dict[str, Any]:
    def activate(conn: Connection) -> dict[str, Any]:
        state = conn.execute(select(users.c.state).where(users.c.id == user_id).with_for_update()).scalar()
        if state is None:
            raise not_found()
        if state == "active":
            raise AdminError(400, "User already active")
        conn.execute(
            update(users).where(users.c.id == user_id).values(state="active", updated_at=datetime.now(UTC))
        )
        return load_user(conn, user_id)

    return {"data": await ctx.db.transaction(activate)}


@router.post("/user/{user_id}/reset-failed-login-count")
async def reset_failed_login_count(user_id: uuid.UUID, ctx: Ctx) -> dict[str, Any]:
    def reset(conn: Connection) -> dict[str, Any]:
        done = conn.execute(
            update(users).where(users.c.id == user_id).values(failed_login_count=0).returning(users.c.id)
        ).first()
        if done is None:
            raise not_found()
        return load_user(conn, user_id)

    return {"data": await ctx.db.transaction(reset)}


@router.get("/user/{user_id}/organisations-and-services")
async def organisations_and_services(user_id: uuid.UUID, ctx: Ctx) -> dict[str, Any]:
    """What the admin app shows a signed-in user: their active services (there are no organisations here)."""

    def fetch(conn: Connection) -> dict[str, Any]:
        if conn.execute(select(users.c.id).where(users.c.id == user_id)).first() is None:
            raise not_found()
        rows = conn.execute(
            select(services.c.id, services.c.name, services.c.restricted)
            .join(service_users, service_users.c.service_id == services.c.id)
            .where(service_users.c.user_id == user_id, services.c.active.is_(True))
            .order_by(services.c.name)
        )
        return {
            "organisations": [],
            "services": [
                {"id": str(r.id), "name": r.name, "restricted": r.restricted, "organisation": None}
                for r in rows
            ],
        }

    return await ctx.db.transaction(fetch)
