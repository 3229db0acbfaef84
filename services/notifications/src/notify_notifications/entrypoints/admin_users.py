"""Admin routes for users (admin-api.md §5, seed 000's UserApiClient): register, get, get by email, update
attributes, archive, permissions on a service. Sign-in codes are in ``admin_user_codes``."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

from argon2 import PasswordHasher
from fastapi import APIRouter, Response
from notify_content.errors import ContentError
from notify_content.recipients import validate_email_address, validate_phone_number
from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from ..adapters import platform_service
from ..adapters.tables import service_users, services, users, verify_codes
from ..domain.formatting import user_json
from ..domain.permissions import PermissionError_, db_permissions
from .admin_api_keys import publish
from .admin_services import announce
from .deps import Ctx
from .errors import AdminError, not_found

router = APIRouter()
hasher = PasswordHasher()
AUTH_TYPES = ("sms_auth", "email_auth", "webauthn_auth")
# What seed 000's update_user_attribute may send; anything else is refused.
UPDATABLE = (
    "name",
    "email_address",
    "mobile_number",
    "auth_type",
    "updated_by",
    "current_session_id",
    "email_access_validated_at",
    "take_part_in_research",
    "receives_new_features_email",
    "platform_admin",
)
ARCHIVED_SESSION = uuid.UUID(int=0)
MIN_PASSWORD_LENGTH = 8


class RegisterUser(BaseModel):
    name: str
    email_address: str
    password: str
    mobile_number: str | None = None
    auth_type: str = "sms_auth"


class EmailLookup(BaseModel):
    email: str


class SetPermissions(BaseModel):
    permissions: list[dict[str, str] | str]
    folder_permissions: list[uuid.UUID] | None = None


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


def _check_contact_details(values: dict[str, Any], errors: dict[str, list[str]]) -> None:
    """Name, email, mobile and auth type rules shared by register and update (messages as the reference)."""
    if "name" in values and not (isinstance(values["name"], str) and values["name"].strip()):
        errors["name"] = ["Invalid name"]
    if "email_address" in values:
        try:
            validate_email_address(str(values["email_address"] or ""))
        except ContentError:
            errors["email_address"] = ["Not a valid email address"]
    if values.get("mobile_number") is not None:
        try:
            validate_phone_number(str(values["mobile_number"]))
        except ContentError as exc:
            errors["mobile_number"] = [f"Invalid phone number: {exc.message}"]
    if "auth_type" in values and values["auth_type"] not in AUTH_TYPES:
        errors["auth_type"] = [f"auth_type must be one of {', '.join(AUTH_TYPES)}"]


def _need_mobile(auth_type: str, mobile: str | None, errors: dict[str, list[str]]) -> None:
    if auth_type == "sms_auth" and not mobile and "mobile_number" not in errors:
        errors["mobile_number"] = ["Mobile number must be set if auth_type is set to sms_auth"]


def announce_memberships(conn: Connection, user_id: uuid.UUID) -> list[uuid.UUID]:
    """The gateway caches each service's team (trial-mode recipients): tell it they changed."""
    service_ids = list(
        conn.execute(select(service_users.c.service_id).where(service_users.c.user_id == user_id)).scalars()
    )
    for service_id in service_ids:
        announce(conn, service_id, "users_changed")
    return service_ids


@router.post("/user", status_code=201)
async def register_user(body: RegisterUser, ctx: Ctx) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    _check_contact_details(body.model_dump(), errors)
    _need_mobile(body.auth_type, body.mobile_number, errors)
    if len(body.password) < MIN_PASSWORD_LENGTH:
        errors["password"] = [f"Password must be at least {MIN_PASSWORD_LENGTH} characters"]
    if errors:
        raise AdminError(400, errors)
    user_id = uuid.uuid4()
    password_hash = await ctx.db.run(hasher.hash, body.password)

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


async def _by_email(ctx: Ctx, email: str) -> dict[str, Any]:
    def find(conn: Connection) -> dict[str, Any]:
        user_id = conn.execute(
            select(users.c.id).where(func.lower(users.c.email_address) == email.strip().lower())
        ).scalar()
        if user_id is None:
            raise not_found()
        return load_user(conn, user_id)

    return {"data": await ctx.db.transaction(find)}


@router.post("/user/email")
async def get_user_by_email(body: EmailLookup, ctx: Ctx) -> dict[str, Any]:
    """The current form: the address in the body, so it stays out of URLs and access logs."""
    return await _by_email(ctx, body.email)


@router.get("/user/email")
async def get_user_by_email_query(ctx: Ctx, email: str | None = None) -> dict[str, Any]:
    """The older admin clients' form (``?email=``), kept so both work."""
    if not email:
        raise AdminError(400, {"email": ["Missing data for required field."]})
    return await _by_email(ctx, email)


@router.get("/user/{user_id}")
async def get_user(user_id: uuid.UUID, ctx: Ctx) -> dict[str, Any]:
    return {"data": await ctx.db.transaction(lambda conn: load_user(conn, user_id))}


def _typed(field: str, kind: Any, value: Any, errors: dict[str, list[str]]) -> Any:
    try:
        return TypeAdapter(kind).validate_python(value)
    except ValidationError as exc:
        errors[field] = [exc.errors()[0]["msg"]]
        return None


@router.post("/user/{user_id}")
async def update_user_attribute(user_id: uuid.UUID, body: dict[str, Any], ctx: Ctx) -> dict[str, Any]:
    """Only seed 000's attributes; ``platform_admin`` can only be turned off."""
    unknown = [k for k in body if k not in UPDATABLE]
    if unknown:
        raise AdminError(400, {"_schema": [f"Unknown field name {k}" for k in unknown]})
    errors: dict[str, list[str]] = {}
    _check_contact_details(body, errors)
    values: dict[str, Any] = {
        k: body[k] for k in ("name", "email_address", "mobile_number", "auth_type") if k in body
    }
    for field, kind in (
        ("current_session_id", uuid.UUID | None),
        ("email_access_validated_at", datetime | None),
        ("take_part_in_research", bool),
        ("receives_new_features_email", bool),
    ):
        if field in body:
            values[field] = _typed(field, kind, body[field], errors)
    if "platform_admin" in body:
        if body["platform_admin"] is not False:
            errors["platform_admin"] = ["Cannot set platform_admin to True"]
        values["platform_admin"] = False
    updated_by = (
        _typed("updated_by", uuid.UUID | None, body["updated_by"], errors) if "updated_by" in body else None
    )
    if errors:
        raise AdminError(400, errors)
    if isinstance(values.get("name"), str):
        values["name"] = values["name"].strip()

    def change(conn: Connection) -> dict[str, Any]:
        current = conn.execute(select(users).where(users.c.id == user_id).with_for_update()).first()
        if current is None:
            raise not_found()
        if (
            updated_by is not None
            and conn.execute(select(users.c.id).where(users.c.id == updated_by)).first() is None
        ):
            raise AdminError(400, {"updated_by": [f"User not found: {updated_by}"]})
        merged = {**current._mapping, **values}
        problems: dict[str, list[str]] = {}
        _need_mobile(merged["auth_type"], merged["mobile_number"], problems)
        if problems:
            raise AdminError(400, problems)
        conn.execute(
            update(users).where(users.c.id == user_id).values(**values, updated_at=datetime.now(UTC))
        )
        changed = [
            k for k in ("email_address", "mobile_number") if k in values and values[k] != getattr(current, k)
        ]
        if changed:
            announce_memberships(conn, user_id)
        if updated_by is not None:
            tell_user_contact_changed(conn, ctx, merged, changed)
        return load_user(conn, user_id)

    try:
        result = await ctx.db.transaction(change)
    except IntegrityError as exc:
        raise AdminError(400, {"email_address": ["Duplicate email address"]}) from exc
    ctx.published()
    return {"data": result}


def tell_user_contact_changed(conn: Connection, ctx: Ctx, user: dict[str, Any], changed: list[str]) -> None:
    """When someone else (``updated_by``) changed a user's email address or mobile number, tell the user at the new
    one, from the platform's own service."""
    platform = platform_service.for_settings(ctx.settings)
    events = []
    if "email_address" in changed:
        events.append(
            platform_service.message(platform, "email-changed", user["email_address"], {"name": user["name"]})
        )
    if "mobile_number" in changed and user["mobile_number"]:
        events.append(platform_service.message(platform, "mobile-changed", user["mobile_number"], {}))
    if events:
        platform_service.ensure(conn, platform)
        publish(conn, *events)


def sole_member_services(conn: Connection, user_id: uuid.UUID) -> list[uuid.UUID]:
    """Active services this user is the only member of (they cannot leave them)."""
    others = service_users.alias("others")
    return list(
        conn.execute(
            select(service_users.c.service_id)
            .join(services, services.c.id == service_users.c.service_id)
            .where(service_users.c.user_id == user_id, services.c.active.is_(True))
            .where(
                ~select(others.c.user_id)
                .where(others.c.service_id == service_users.c.service_id, others.c.user_id != user_id)
                .exists()
            )
        ).scalars()
    )


@router.post("/user/{user_id}/archive", status_code=204)
async def archive_user(user_id: uuid.UUID, ctx: Ctx) -> Response:
    """Leaves every service and anonymises the account; refused while they are some active service's only user."""
    password_hash = await ctx.db.run(hasher.hash, secrets.token_urlsafe(32))

    def archive(conn: Connection) -> None:
        if conn.execute(select(users.c.id).where(users.c.id == user_id).with_for_update()).first() is None:
            raise not_found()
        if sole_member_services(conn, user_id):
            raise AdminError(400, "User cannot be removed from a service")
        announce_memberships(conn, user_id)
        conn.execute(delete(service_users).where(service_users.c.user_id == user_id))
        conn.execute(delete(verify_codes).where(verify_codes.c.user_id == user_id))
        conn.execute(
            update(users)
            .where(users.c.id == user_id)
            .values(
                name="Archived user",
                email_address=f"_archived_{user_id}@archived.invalid",
                mobile_number=None,
                password_hash=password_hash,
                auth_type="email_auth",
                platform_admin=False,
                current_session_id=ARCHIVED_SESSION,
                state="inactive",
                updated_at=datetime.now(UTC),
            )
        )

    await ctx.db.transaction(archive)
    ctx.published()
    return Response(status_code=204)


@router.post("/user/{user_id}/service/{service_id}/permission", status_code=204)
async def set_permissions(
    user_id: uuid.UUID, service_id: uuid.UUID, body: SetPermissions, ctx: Ctx
) -> Response:
    """Replaces the user's permissions on the service (and folder permissions, when given)."""
    try:
        permissions = db_permissions(body.permissions)
    except PermissionError_ as exc:
        raise AdminError(400, {"permissions": [str(exc)]}) from exc
    values: dict[str, Any] = {"permissions": permissions}
    if body.folder_permissions is not None:
        values["folder_permissions"] = list(dict.fromkeys(body.folder_permissions))

    def change(conn: Connection) -> None:
        done = conn.execute(
            update(service_users)
            .where(service_users.c.user_id == user_id, service_users.c.service_id == service_id)
            .values(**values)
            .returning(service_users.c.user_id)
        ).first()
        if done is None:
            raise not_found("User not found")

    await ctx.db.transaction(change)
    return Response(status_code=204)
