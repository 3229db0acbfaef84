"""Admin routes for services (admin-api.md §4, seed 004): list, find by name, get, create, update."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter
from notify_contracts import ServiceChangedV1, new_envelope
from notify_platform import outbox
from notify_platform.logging import current_correlation_id
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from ..adapters import platform_service
from ..adapters.statistics_queries import status_counts
from ..adapters.tables import outbox as outbox_table
from ..adapters.tables import (
    service_callback_api,
    service_users,
    services,
    services_history,
    sms_senders,
    users,
)
from ..domain.formatting import (
    ALL_USER_PERMISSIONS,
    DEFAULT_SERVICE_PERMISSIONS,
    ORGANISATION_TYPES,
    SERVICE_PERMISSIONS,
    service_json,
)
from ..domain.statistics import LONDON, summarise, window_start
from .admin_service_settings import apply_sender_settings
from .deps import Ctx
from .errors import AdminError, not_found

router = APIRouter()
NonEmpty = Annotated[str, Field(min_length=1, max_length=255)]
Count = Annotated[int, Field(ge=0)]


def flag(value: str | None, default: bool = False) -> bool:
    """A boolean query parameter: Notify's admin sends ``True``; ``true`` and ``1`` are taken too."""
    if value is None:
        return default
    return value.strip().lower() in ("true", "1", "yes")


def _check_permissions(perms: list[str]) -> list[str]:
    invalid = [p for p in perms if p not in SERVICE_PERMISSIONS]
    if invalid:
        raise ValueError(f"Invalid Service Permission: '{invalid[0]}'")
    if len(set(perms)) != len(perms):
        raise ValueError(f"Duplicate Service Permission: {sorted({p for p in perms if perms.count(p) > 1})}")
    return perms


def _check_organisation_type(value: str | None) -> str | None:
    if value is not None and value not in ORGANISATION_TYPES:
        raise ValueError(f"Invalid organisation type: '{value}'")
    return value


class CreateService(BaseModel):
    """Seed 004 sends only name, user_id, organisation_type, active, restricted and permissions; the admin client
    (seed 000) adds the limits. Everything but ``name`` and ``user_id`` has a default."""

    name: NonEmpty
    user_id: uuid.UUID
    created_by: uuid.UUID | None = None
    email_message_limit: Count = 1000
    sms_message_limit: Count = 1000
    letter_message_limit: Count = 1000
    international_sms_message_limit: Count = 100
    restricted: bool = True
    organisation_type: str | None = None
    active: bool = True
    prefix_sms: bool = True
    rate_limit: Annotated[int, Field(ge=1)] = 3000
    permissions: list[str] | None = None

    _perms = field_validator("permissions")(lambda v: v if v is None else _check_permissions(v))
    _org = field_validator("organisation_type")(_check_organisation_type)

    @model_validator(mode="before")
    @classmethod
    def _service_name(cls, data: Any) -> Any:
        # The admin client's keyword is ``service_name``; the body field is ``name``. Both are taken.
        if isinstance(data, dict) and "name" not in data and "service_name" in data:
            return {**data, "name": data["service_name"]}
        return data


class UpdateService(BaseModel):
    """Exactly the attributes seed 000 allows ``update_service`` to send (plus ``created_by``, which the admin
    attaches to every change); anything else is refused with ``Unknown field name``."""

    model_config = ConfigDict(extra="forbid")

    active: bool = None  # type: ignore[assignment]
    billing_contact_email_addresses: str | None = None
    billing_contact_names: str | None = None
    billing_reference: str | None = None
    confirmed_email_sender_name: bool = None  # type: ignore[assignment]
    contact_link: str | None = None
    email_branding: str | None = None
    free_sms_fragment_limit: Count | None = None
    go_live_at: datetime | None = None
    letter_branding: str | None = None
    letter_contact_block: Annotated[str, Field(min_length=1)] = None  # type: ignore[assignment]
    email_message_limit: Count = None  # type: ignore[assignment]
    name: NonEmpty = None  # type: ignore[assignment]
    notes: str | None = None
    organisation_type: str | None = None
    permissions: list[str] = None  # type: ignore[assignment]
    prefix_sms: bool = None  # type: ignore[assignment]
    rate_limit: Annotated[int, Field(ge=1)] = None  # type: ignore[assignment]
    reply_to_email_address: Annotated[str, Field(min_length=1)] = None  # type: ignore[assignment]
    restricted: bool = None  # type: ignore[assignment]
    sms_sender: Annotated[str, Field(min_length=1, max_length=11)] = None  # type: ignore[assignment]
    volume_email: Count | None = None
    volume_letter: Count | None = None
    volume_sms: Count | None = None
    created_by: uuid.UUID | None = None

    _perms = field_validator("permissions")(_check_permissions)
    _org = field_validator("organisation_type")(_check_organisation_type)


# Update attributes that live in other tables (the service's default sender of each kind), or are only metadata.
SENDER_SETTINGS = ("sms_sender", "reply_to_email_address", "letter_contact_block")
NOT_COLUMNS = (*SENDER_SETTINGS, "created_by")


def email_local_part(name: str) -> str:
    return re.sub(r"[^a-z0-9.\-]", "", re.sub(r"\s+", ".", name.strip().lower())) or "service"


def announce(conn: Connection, service_id: uuid.UUID, reason: str) -> None:
    outbox.write(
        conn,
        outbox_table,
        [
            new_envelope(
                ServiceChangedV1(service_id=service_id, reason=reason),
                producer="notifications",
                correlation_id=current_correlation_id() or str(uuid.uuid4()),
            )
        ],
    )


def load_service(conn: Connection, service_id: uuid.UUID, *, lock: bool = False) -> Any:
    query = select(services).where(services.c.id == service_id)
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise not_found()
    return row


def record_version(conn: Connection, service_id: uuid.UUID) -> None:
    """Copy the service's current state into its history (called after every change, in the same transaction)."""
    columns = [c for c in services_history.c if c.name in services.c]
    conn.execute(
        services_history.insert().from_select(
            [c.name for c in columns],
            select(*[services.c[c.name] for c in columns]).where(services.c.id == service_id),
        )
    )


def duplicate_name(name: str) -> AdminError:
    return AdminError(400, {"name": [f"Duplicate service name '{name}'"]})


def _check_name_free(conn: Connection, name: str, service_id: uuid.UUID | None = None) -> str:
    local_part = email_local_part(name)
    query = select(services.c.id).where(
        (func.lower(services.c.name) == name.strip().lower())
        | (services.c.email_sender_local_part == local_part)
    )
    if service_id is not None:
        query = query.where(services.c.id != service_id)
    if conn.execute(query).first() is not None:
        raise duplicate_name(name)
    return local_part


def tell_team_service_is_live(conn: Connection, ctx: Ctx, service_id: uuid.UUID, name: str) -> None:
    """Going live (restricted → not) emails every member of the team, from the platform's own service."""
    platform = platform_service.for_settings(ctx.settings)
    team = conn.execute(
        select(users.c.name, users.c.email_address)
        .join(service_users, service_users.c.user_id == users.c.id)
        .where(service_users.c.service_id == service_id)
    ).all()
    platform_service.ensure(conn, platform)
    events = [
        platform_service.message(
            platform, "go-live", member.email_address, {"name": member.name, "service_name": name}
        )
        for member in team
    ]
    outbox.write(
        conn,
        outbox_table,
        [
            new_envelope(
                e, producer="notifications", correlation_id=current_correlation_id() or str(uuid.uuid4())
            )
            for e in events
        ],
    )


@router.get("/service")
async def list_services(
    ctx: Ctx,
    only_active: str | None = None,
    detailed: str | None = None,
    user_id: uuid.UUID | None = None,
    include_from_test_key: str | None = None,
    start_date: date | None = None,
    end_date: date | None = None,
) -> dict[str, Any]:
    """Every service (or one user's); ``detailed`` adds each one's statistics between the two dates (London)."""
    today = datetime.now(LONDON).date()
    first, last = start_date or today, end_date or today
    if last < first:
        raise AdminError(400, {"end_date": ["End date must not be before start date"]})

    def fetch(conn: Connection) -> list[dict[str, Any]]:
        query = select(services).order_by(services.c.created_at, services.c.id)
        if flag(only_active):
            query = query.where(services.c.active.is_(True))
        if user_id is not None:
            query = query.join(service_users, service_users.c.service_id == services.c.id).where(
                service_users.c.user_id == user_id
            )
        rows = conn.execute(query).all()
        if not flag(detailed):
            return [service_json(r) for r in rows]
        counts = status_counts(
            conn,
            [r.id for r in rows],
            start=datetime.combine(first, time(), LONDON),
            end=datetime.combine(last + timedelta(days=1), time(), LONDON),
            include_test_key=flag(include_from_test_key, default=True),
        )
        return [{**service_json(r), "statistics": summarise(counts.get(r.id, []))} for r in rows]

    return {"data": await ctx.db.transaction(fetch)}


@router.get("/service/find-services-by-name")
async def find_services_by_name(ctx: Ctx, service_name: str | None = None) -> dict[str, Any]:
    """Case-insensitive substring search on the name."""
    if not service_name or not service_name.strip():
        raise AdminError(400, {"service_name": ["Missing data for required field."]})
    pattern = (
        "%" + service_name.strip().lower().replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_") + "%"
    )

    def fetch(conn: Connection) -> list[dict[str, Any]]:
        rows = conn.execute(
            select(services.c.id, services.c.name, services.c.active, services.c.restricted)
            .where(func.lower(services.c.name).like(pattern, escape="\\"))
            .order_by(services.c.name)
        )
        # organisation_name is what the seed shows; services here belong to no organisation.
        return [
            {
                "id": str(r.id),
                "name": r.name,
                "active": r.active,
                "restricted": r.restricted,
                "organisation_name": None,
            }
            for r in rows
        ]

    return {"data": await ctx.db.transaction(fetch)}


@router.post("/service", status_code=201)
async def create_service(body: CreateService, ctx: Ctx) -> dict[str, Any]:
    service_id = uuid.uuid4()
    name = body.name.strip()

    def create(conn: Connection) -> dict[str, Any]:
        creator = body.created_by or body.user_id
        found = conn.execute(select(func.count()).where(users.c.id.in_({body.user_id, creator}))).scalar_one()
        if found != len({body.user_id, creator}):
            raise not_found()
        local_part = _check_name_free(conn, name)
        permissions = body.permissions if body.permissions is not None else DEFAULT_SERVICE_PERMISSIONS
        conn.execute(
            services.insert().values(
                id=service_id,
                name=name,
                active=body.active,
                restricted=body.restricted,
                email_message_limit=body.email_message_limit,
                sms_message_limit=body.sms_message_limit,
                letter_message_limit=body.letter_message_limit,
                international_sms_message_limit=body.international_sms_message_limit,
                rate_limit=body.rate_limit,
                prefix_sms=body.prefix_sms,
                organisation_type=body.organisation_type,
                email_sender_local_part=local_part,
                permissions=list(permissions),
                created_by_id=creator,
            )
        )
        record_version(conn, service_id)
        conn.execute(
            service_users.insert().values(
                service_id=service_id, user_id=body.user_id, permissions=list(ALL_USER_PERMISSIONS)
            )
        )
        conn.execute(
            sms_senders.insert().values(
                id=uuid.uuid4(),
                service_id=service_id,
                sms_sender=ctx.settings.default_sms_sender,
                is_default=True,
            )
        )
        return service_json(load_service(conn, service_id))

    try:
        return {"data": await ctx.db.transaction(create)}
    except IntegrityError as exc:
        raise duplicate_name(name) from exc


@router.get("/service/{service_id}")
async def get_service(
    service_id: uuid.UUID, ctx: Ctx, detailed: str | None = None, today_only: str | None = None
) -> dict[str, Any]:
    """The service; ``detailed`` adds its statistics (today, or the last 7 days and today)."""

    def fetch(conn: Connection) -> dict[str, Any]:
        service = load_service(conn, service_id)
        result = service_json(service)
        result["service_callback_api"] = [
            {"callback_id": str(c.id), "callback_type": c.callback_type}
            for c in conn.execute(
                select(service_callback_api.c.id, service_callback_api.c.callback_type).where(
                    service_callback_api.c.service_id == service_id
                )
            )
        ]
        if flag(detailed):
            today = datetime.now(LONDON).date()
            start = window_start(today, today_only=flag(today_only), limit_days=7)
            result["statistics"] = summarise(
                status_counts(conn, [service_id], start=start).get(service_id, [])
            )
        return result

    return {"data": await ctx.db.transaction(fetch)}


@router.post("/service/{service_id}")
async def update_service(service_id: uuid.UUID, body: UpdateService, ctx: Ctx) -> dict[str, Any]:
    given = body.model_dump(exclude_unset=True)
    values = {k: v for k, v in given.items() if k not in NOT_COLUMNS}
    if "name" in values:
        values["name"] = values["name"].strip()

    def change(conn: Connection) -> dict[str, Any]:
        current = load_service(conn, service_id, lock=True)
        if current.archived_at is not None:
            raise AdminError(400, "Cannot update an archived service")
        if "name" in values:
            values["email_sender_local_part"] = _check_name_free(conn, values["name"], service_id)
        changed = {k: v for k, v in values.items() if getattr(current, k) != v}
        senders_changed = apply_sender_settings(
            conn, service_id, {k: given[k] for k in SENDER_SETTINGS if k in given}
        )
        if changed:
            conn.execute(
                update(services)
                .where(services.c.id == service_id)
                .values(**changed, updated_at=datetime.now(UTC), version=current.version + 1)
            )
            record_version(conn, service_id)
        if changed or senders_changed:
            announce(conn, service_id, "updated")
        if current.restricted and changed.get("restricted") is False:
            tell_team_service_is_live(conn, ctx, service_id, changed.get("name", current.name))
        return service_json(load_service(conn, service_id))

    try:
        result = await ctx.db.transaction(change)
    except IntegrityError as exc:
        raise duplicate_name(str(values.get("name"))) from exc
    ctx.published()
    return {"data": result}
