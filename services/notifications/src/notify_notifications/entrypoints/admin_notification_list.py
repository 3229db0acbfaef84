"""A service's notifications for the admin (admin-api.md §9, seed 000's ``get_notifications_for_service``):
``GET`` with query filters, or ``POST`` with the same filters in a JSON body, which is what the admin uses when it
searches by recipient (``to``) so that phone numbers and addresses never appear in URLs or access logs."""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta
from typing import Any, get_args

from fastapi import APIRouter, Request
from notify_content.errors import ContentError
from notify_content.recipients import validate_phone_number
from notify_contracts.events import STATUS_FILTER_EXPANSIONS, NotificationStatus
from sqlalchemy import and_, func, or_, select, tuple_
from sqlalchemy.engine import Connection

from ..adapters.tables import notifications, template_versions, templates, users
from ..domain.formatting import notification_admin_json
from ..domain.statistics import LONDON
from .admin_services import load_service
from .deps import Ctx
from .errors import AdminError, parse_uuid

router = APIRouter()
PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
RETENTION_DAYS = 7
SEARCH_RESULTS = 50
CHANNELS = ("sms", "email", "letter")
STATUSES = frozenset(get_args(NotificationStatus))  # every status a notification can have
EXPANSIONS = STATUS_FILTER_EXPANSIONS


def _list(value: Any) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    return [str(v) for v in items if str(v).strip()]


def _positive(name: str, value: Any, default: int, *, allow_zero: bool = False) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(str(value))
    except ValueError:
        number = -1
    if number < (0 if allow_zero else 1):
        raise AdminError(400, {name: ["Not a positive integer"]})
    return number


def _flag(value: Any, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("true", "1", "yes")


def _uuid(name: str, value: Any) -> uuid.UUID | None:
    return None if value in (None, "") else parse_uuid(name, value)


def _search_term(to: str, template_type: str | None) -> str:
    """Recipients are stored normalised: numbers as digits without ``+`` or leading zeros, emails lower-case."""
    term = to.strip()
    if template_type != "email" and "@" not in term:
        try:
            return validate_phone_number(term).normalised
        except ContentError:
            digits = "".join(c for c in term if c.isdigit())
            if digits and template_type == "sms":
                return digits.lstrip("0")
    return term.lower().replace(" ", "") if template_type == "letter" else term.lower()


def _filters(params: dict[str, Any]) -> dict[str, Any]:
    template_types = _list(params.get("template_type"))
    bad = [t for t in template_types if t not in CHANNELS]
    if bad:
        raise AdminError(400, {"template_type": [f"Invalid template type: {bad[0]}"]})
    statuses: list[str] = []
    for status in _list(params.get("status")):
        if status not in STATUSES and status not in EXPANSIONS:
            raise AdminError(400, {"status": [f"Invalid status: {status}"]})
        statuses += EXPANSIONS.get(status, (status,))
    return {
        "template_types": template_types,
        "statuses": statuses,
        "page": _positive("page", params.get("page"), 1),
        "page_size": min(_positive("page_size", params.get("page_size"), PAGE_SIZE), MAX_PAGE_SIZE),
        "limit_days": _positive("limit_days", params.get("limit_days"), RETENTION_DAYS, allow_zero=True),
        "job_id": _uuid("job_id", params.get("job_id")),
        "older_than": _uuid("older_than", params.get("older_than")),
        "include_jobs": _flag(params.get("include_jobs"), True),
        "include_from_test_key": _flag(params.get("include_from_test_key"), False),
        "include_one_off": _flag(params.get("include_one_off"), True),
        "count_pages": _flag(params.get("count_pages"), True),
        "to": str(params["to"]) if params.get("to") not in (None, "") else None,
    }


def _enrich(conn: Connection, rows: list[Any]) -> list[dict[str, Any]]:
    """Each notification with its template version and the user who sent it, in two queries for the page."""
    pairs = {(r.template_id, r.template_version) for r in rows}
    found = (
        conn.execute(
            select(template_versions).where(
                tuple_(template_versions.c.id, template_versions.c.version).in_(pairs)
            )
        ).all()
        if pairs
        else []
    )
    versions = {(t.id, t.version): t for t in found}
    template_ids = {r.template_id for r in rows}
    redacted = (
        set(
            conn.execute(
                select(templates.c.id).where(
                    templates.c.id.in_(template_ids), templates.c.redact_personalisation.is_(True)
                )
            ).scalars()
        )
        if template_ids
        else set()
    )
    authors = {r.created_by_id for r in rows if r.created_by_id}
    people = (
        {
            u.id: u
            for u in conn.execute(
                select(users.c.id, users.c.name, users.c.email_address).where(users.c.id.in_(authors))
            )
        }
        if authors
        else {}
    )
    result = []
    for row in rows:
        item = notification_admin_json(row)
        template = versions.get((row.template_id, row.template_version))
        if template is not None:
            item["template"] = {
                "id": str(template.id),
                "service": str(template.service_id),
                "version": template.version,
                "name": template.name,
                "template_type": template.template_type,
                "content": template.content,
                "subject": template.subject,
                "redact_personalisation": template.id in redacted,
                "is_precompiled_letter": template.hidden and template.template_type == "letter",
                "reply_to_text": template.letter_contact_block,
                "has_unsubscribe_link": template.has_unsubscribe_link,
            }
        author = people.get(row.created_by_id)
        if author is not None:
            item["created_by"] = {
                "id": str(author.id),
                "name": author.name,
                "email_address": author.email_address,
            }
        result.append(item)
    return result


def find(conn: Connection, service_id: uuid.UUID, f: dict[str, Any]) -> dict[str, Any]:
    load_service(conn, service_id)
    n = notifications
    today = datetime.now(LONDON).date()
    since = datetime.combine(today - timedelta(days=f["limit_days"]), time(), LONDON)
    query = select(n).where(n.c.service_id == service_id, n.c.created_at >= since)
    if f["to"] is not None:
        # A search: page 1 only, never test-key notifications, only the first channel asked for.
        channel = f["template_types"][0] if f["template_types"] else None
        term = (
            "%"
            + _search_term(f["to"], channel).replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")
            + "%"
        )
        # Letters are searched without spaces on both sides (admin-api.md §9): addresses are stored as written.
        recipient = (
            func.replace(n.c.normalised_recipient, " ", "")
            if channel == "letter"
            else n.c.normalised_recipient
        )
        query = query.where(
            n.c.key_type != "test",
            or_(
                recipient.ilike(term, escape="\\"),
                n.c.client_reference.ilike(term, escape="\\"),
            ),
        )
        if channel:
            query = query.where(n.c.notification_type == channel)
        f = {**f, "page": 1, "page_size": SEARCH_RESULTS}
    else:
        if f["template_types"]:
            query = query.where(n.c.notification_type.in_(f["template_types"]))
        if not f["include_from_test_key"]:
            query = query.where(n.c.key_type != "test")
    if f["statuses"]:
        query = query.where(n.c.status.in_(f["statuses"]))
    if f["job_id"] is not None:
        query = query.where(n.c.job_id == f["job_id"])
    elif not f["include_jobs"]:
        query = query.where(n.c.job_id.is_(None))
    if not f["include_one_off"]:
        query = query.where(or_(n.c.created_by_id.is_(None), n.c.job_id.is_not(None)))
    if f["older_than"] is not None:
        anchor = conn.execute(select(n.c.id, n.c.created_at).where(n.c.id == f["older_than"])).first()
        if anchor is not None:
            query = query.where(
                or_(
                    n.c.created_at < anchor.created_at,
                    and_(n.c.created_at == anchor.created_at, n.c.id < anchor.id),
                )
            )
    size = f["page_size"]
    rows = conn.execute(
        query.order_by(n.c.created_at.desc(), n.c.id.desc()).offset((f["page"] - 1) * size).limit(size + 1)
    ).all()
    links: dict[str, bool] = {}
    if f["count_pages"]:
        if f["page"] > 1:
            links["prev"] = True
        if len(rows) > size:
            links["next"] = True
    return {"notifications": _enrich(conn, rows[:size]), "page_size": size, "links": links}


@router.get("/service/{service_id}/notifications")
async def list_notifications(service_id: uuid.UUID, request: Request, ctx: Ctx) -> dict[str, Any]:
    filters = _query_filters(request)
    return await ctx.db.transaction(lambda conn: find(conn, service_id, filters))


@router.post("/service/{service_id}/notifications")
async def search_notifications(service_id: uuid.UUID, body: dict[str, Any], ctx: Ctx) -> dict[str, Any]:
    filters = _filters(body)
    return await ctx.db.transaction(lambda conn: find(conn, service_id, filters))


def find_for_job(
    conn: Connection, service_id: uuid.UUID, job_id: uuid.UUID, f: dict[str, Any]
) -> dict[str, Any]:
    """One job's notifications in row order, with the total (admin-api.md §8.3; the jobs service pages them)."""
    n = notifications
    query = select(n).where(n.c.service_id == service_id, n.c.job_id == job_id)
    if f["template_types"]:
        query = query.where(n.c.notification_type.in_(f["template_types"]))
    if f["statuses"]:
        query = query.where(n.c.status.in_(f["statuses"]))
    total = conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    size = f["page_size"]
    rows = conn.execute(
        query.order_by(n.c.job_row_number, n.c.id).offset((f["page"] - 1) * size).limit(size)
    ).all()
    return {"notifications": _enrich(conn, rows), "page_size": size, "total": total}


def _query_filters(request: Request) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for key, value in request.query_params.multi_items():
        if key in ("template_type", "status"):
            params.setdefault(key, []).append(value)
        else:
            params.setdefault(key, value)
    return _filters(params)


@router.get("/internal/services/{service_id}/jobs/{job_id}/notifications")
async def job_notifications(
    service_id: uuid.UUID, job_id: uuid.UUID, request: Request, ctx: Ctx
) -> dict[str, Any]:
    filters = _query_filters(request)
    return await ctx.db.transaction(lambda conn: find_for_job(conn, service_id, job_id, filters))


@router.get("/internal/services/{service_id}/jobs/{job_id}/count")
async def job_notification_count(service_id: uuid.UUID, job_id: uuid.UUID, ctx: Ctx) -> dict[str, int]:
    """How many of the job's rows are stored: the jobs service's check that every row became a notification."""
    n = notifications

    def count(conn: Connection) -> int:
        query = select(func.count()).where(n.c.service_id == service_id, n.c.job_id == job_id)
        return int(conn.execute(query).scalar_one())

    return {"count": await ctx.db.transaction(count)}
