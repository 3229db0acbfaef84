"""Jobs for the admin (admin-api.md §8, seed 000's JobApiClient): create from an upload, get, list, cancel, and a
job's notifications. Reached through the gateway, which has checked the admin JWT."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from notify_platform.admin_errors import AdminError, missing, not_found, parse_uuid
from notify_platform.logging import get_logger
from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from ..adapters.notifications_client import NotificationsUnavailable
from ..adapters.tables import contact_lists, job_notifications, jobs, uploads
from ..domain import jobs as status
from ..domain.jobs import job_json, ts
from .deps import Ctx
from .uploads import load_service, load_template, unavailable

log = get_logger(__name__)
router = APIRouter()
PAGE_SIZE = 50


def statistics_of(conn: Connection, page: Sequence[Any]) -> dict[Any, list[dict[str, Any]]]:
    """Each job's counts by status (one query for all of them), from the status events of its notifications; rows
    announced but not yet reported on by any event count as ``created``."""
    counts: dict[Any, dict[str, int]] = {job.id: {} for job in page}
    if counts:
        c = job_notifications.c
        for job_id, status, count in conn.execute(
            select(c.job_id, c.status, func.count())
            .where(c.job_id.in_(list(counts)))
            .group_by(c.job_id, c.status)
        ):
            counts[job_id][status] = count
    out = {}
    for job in page:
        by_status = counts[job.id]
        waiting = job.notifications_sent - sum(by_status.values())
        if waiting > 0:
            by_status["created"] = by_status.get("created", 0) + waiting
        out[job.id] = [{"status": s, "count": n} for s, n in sorted(by_status.items())]
    return out


def statistics(conn: Connection, job: Any) -> list[dict[str, Any]]:
    return statistics_of(conn, [job])[job.id]


def _job(conn: Connection, service_id: uuid.UUID, job_id: uuid.UUID) -> Any:
    job = conn.execute(select(jobs).where(jobs.c.id == job_id, jobs.c.service_id == service_id)).first()
    if job is None:
        raise not_found("Job not found")
    return job


async def _id_and_author(request: Request) -> tuple[dict[str, Any], uuid.UUID, uuid.UUID]:
    """The JSON body of a create (a job, a contact list): the upload's ``id`` and ``created_by`` are required."""
    try:
        body = await request.json()
    except ValueError as exc:
        raise AdminError(400, {"body": ["Invalid JSON"]}) from exc
    if not isinstance(body, dict):
        raise AdminError(400, {"body": ["Invalid JSON"]})
    absent = [f for f in ("id", "created_by") if not body.get(f)]
    if absent:
        raise missing(*absent)
    return body, parse_uuid("id", body["id"]), parse_uuid("created_by", body["created_by"])


async def _author_name(ctx: Any, created_by: uuid.UUID) -> str | None:
    try:
        user = await ctx.notifications.user(created_by)
    except NotificationsUnavailable as exc:
        raise unavailable() from exc
    if user is None:
        raise AdminError(400, {"created_by": ["User not found"]})
    return user.get("name")  # type: ignore[no-any-return]


def _scheduled_for(value: Any, max_days: int) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise AdminError(400, {"scheduled_for": ["Not a valid datetime."]}) from exc
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # the admin sends UTC without an offset
    now = datetime.now(UTC)
    if when < now:
        raise AdminError(400, {"scheduled_for": ["Date cannot be in the past"]})
    if when > now + timedelta(days=max_days):
        raise AdminError(400, {"scheduled_for": [f"Date cannot be more than {max_days} days in the future"]})
    return when


@router.post("/service/{service_id}/job", status_code=201)
async def create_job(service_id: uuid.UUID, request: Request, ctx: Ctx) -> dict[str, Any]:
    service = await load_service(ctx, service_id)
    if not service["active"]:
        raise AdminError(403, "Create job is not allowed: service is inactive ")
    body, upload_id, created_by = await _id_and_author(request)
    contact_list_id = (
        parse_uuid("contact_list_id", body["contact_list_id"]) if body.get("contact_list_id") else None
    )
    upload = await ctx.db.transaction(
        lambda conn: conn.execute(
            select(uploads).where(uploads.c.id == upload_id, uploads.c.service_id == service_id)
        ).first()
    )
    if upload is None or upload.kind != "job":
        raise not_found("No uploaded file found for this id")
    if upload.template_type == "letter" and service["restricted"]:
        raise AdminError(403, "Create letter job is not allowed for service in trial mode ")
    if not upload.valid:
        raise AdminError(400, "File is not valid, can't create job")
    template = await load_template(ctx, service_id, upload.template_id)
    if template["archived"]:
        raise AdminError(400, {"template": ["Template has been deleted"]})
    when = _scheduled_for(body.get("scheduled_for"), ctx.settings.job_max_schedule_days)
    author = await _author_name(ctx, created_by)
    now = datetime.now(UTC)

    def store(conn: Connection) -> dict[str, Any]:
        conn.execute(
            insert(jobs).values(
                id=upload_id,
                service_id=service_id,
                service_name=service["name"],
                template_id=upload.template_id,
                template_version=upload.template_version,
                template_type=upload.template_type,
                template_name=template["name"],
                original_file_name=upload.original_file_name,
                notification_count=upload.notification_count,
                job_status=status.SCHEDULED if when else status.PENDING,
                created_by_id=created_by,
                created_by_name=author,
                created_at=now,
                scheduled_for=when,
                contact_list_id=contact_list_id or upload.contact_list_id,
                sender_id=parse_uuid("sender_id", body["sender_id"]) if body.get("sender_id") else None,
            )
        )
        return job_json(_job(conn, service_id, upload_id), [])

    try:
        data = await ctx.db.transaction(store)
    except IntegrityError as exc:
        raise AdminError(400, {"id": ["A job has already been created from this upload"]}) from exc
    log.info(
        "jobs.created",
        job_id=str(upload_id),
        service_id=str(service_id),
        rows=upload.notification_count,
        scheduled=when is not None,
    )
    return {"data": data}


@router.get("/service/{service_id}/job/scheduled-job-stats")
async def scheduled_job_stats(service_id: uuid.UUID, ctx: Ctx) -> dict[str, Any]:
    def read(conn: Connection) -> dict[str, Any]:
        count, soonest = conn.execute(
            select(func.count(), func.min(jobs.c.scheduled_for)).where(
                jobs.c.service_id == service_id, jobs.c.job_status == status.SCHEDULED
            )
        ).one()
        return {"count": count, "soonest_scheduled_for": ts(soonest)}

    return await ctx.db.transaction(read)


@router.get("/service/{service_id}/job/{job_id}")
async def get_job(service_id: uuid.UUID, job_id: uuid.UUID, ctx: Ctx) -> dict[str, Any]:
    def read(conn: Connection) -> dict[str, Any]:
        job = _job(conn, service_id, job_id)
        return {"data": job_json(job, statistics(conn, job))}

    return await ctx.db.transaction(read)


def _int_param(name: str, value: str | None, default: int | None, *, minimum: int) -> int | None:
    if value in (None, ""):
        return default
    try:
        number = int(value)  # type: ignore[arg-type]
    except ValueError as exc:
        raise AdminError(400, {name: [f"{value} is not an integer"]}) from exc
    if number < minimum:
        raise AdminError(
            400, {name: [f"{value} is not a positive integer" if minimum else f"{value} is negative"]}
        )
    return number


@router.get("/service/{service_id}/job")
async def list_jobs(service_id: uuid.UUID, request: Request, ctx: Ctx) -> dict[str, Any]:
    q = request.query_params
    page = _int_param("page", q.get("page"), 1, minimum=1) or 1
    limit_days = _int_param("limit_days", q.get("limit_days"), None, minimum=0)
    wanted = [s.strip() for value in q.getlist("statuses") for s in value.split(",") if s.strip()]
    unknown = [s for s in wanted if s not in status.STATUSES]
    if unknown:
        raise AdminError(400, {"statuses": [f"Invalid job status: {unknown[0]}"]})
    contact_list_id = (
        parse_uuid("contact_list_id", q["contact_list_id"]) if q.get("contact_list_id") else None
    )

    def read(conn: Connection) -> dict[str, Any]:
        query = select(jobs).where(jobs.c.service_id == service_id)
        if wanted:
            query = query.where(jobs.c.job_status.in_(wanted))
        if limit_days is not None:
            query = query.where(jobs.c.created_at >= datetime.now(UTC) - timedelta(days=limit_days))
        if contact_list_id is not None:
            query = query.where(jobs.c.contact_list_id == contact_list_id)
        total = conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()
        rows = conn.execute(
            query.order_by(
                jobs.c.processing_started.desc().nulls_first(), jobs.c.created_at.desc(), jobs.c.id.desc()
            )
            .offset((page - 1) * PAGE_SIZE)
            .limit(PAGE_SIZE)
        ).all()
        stats = statistics_of(conn, rows)
        return {
            "data": [job_json(job, stats[job.id]) for job in rows],
            "page_size": PAGE_SIZE,
            "total": total,
            "links": _links(request, page, total),
        }

    return await ctx.db.transaction(read)


def _links(request: Request, page: int, total: int, page_size: int = PAGE_SIZE) -> dict[str, str]:
    """Relative URLs of the previous, next and last pages, keeping the other query parameters (admin-api.md §8.3)."""
    last = max(1, -(-total // page_size))
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "page"]

    def url(n: int) -> str:
        return f"{request.url.path}?{urlencode([*params, ('page', str(n))])}"

    links = {}
    if page > 1:
        links["prev"] = url(page - 1)
    if page < last:
        links["next"] = url(page + 1)
        links["last"] = url(last)
    return links


@router.post("/service/{service_id}/job/{job_id}/cancel")
async def cancel_job(service_id: uuid.UUID, job_id: uuid.UUID, ctx: Ctx) -> dict[str, Any]:
    """Only a job still waiting for its time can be cancelled (admin-api.md §8.3); otherwise 404."""

    def cancel(conn: Connection) -> dict[str, Any]:
        changed = conn.execute(
            update(jobs)
            .where(
                jobs.c.id == job_id, jobs.c.service_id == service_id, jobs.c.job_status == status.SCHEDULED
            )
            .values(job_status=status.CANCELLED, updated_at=func.now())
            .returning(jobs.c.id)
        ).first()
        if changed is None:
            raise not_found()
        job = _job(conn, service_id, job_id)
        return {"data": job_json(job, statistics(conn, job))}

    data = await ctx.db.transaction(cancel)
    log.info("jobs.cancelled", job_id=str(job_id), service_id=str(service_id))
    return data


@router.get("/service/{service_id}/job/{job_id}/notifications")
async def job_notifications_page(
    service_id: uuid.UUID, job_id: uuid.UUID, request: Request, ctx: Ctx
) -> dict[str, Any]:
    job = await ctx.db.transaction(lambda conn: _job(conn, service_id, job_id))
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "format_for_csv"]
    try:
        found = await ctx.notifications.job_notifications(service_id, job_id, params)
    except NotificationsUnavailable as exc:
        raise unavailable() from exc
    body = found["body"]
    if found["status_code"] != 200:
        raise AdminError(found["status_code"], body.get("message", "Bad request"))
    for item in body["notifications"]:
        item["job"] = {"id": str(job.id), "original_file_name": job.original_file_name}
    page = int(request.query_params.get("page") or 1)
    links = _links(request, page, body["total"], body["page_size"])
    return {**body, "links": links}


@router.get("/service/{service_id}/job/{job_id}/notification_count")
async def job_notification_count(service_id: uuid.UUID, job_id: uuid.UUID, ctx: Ctx) -> dict[str, int]:
    await ctx.db.transaction(lambda conn: _job(conn, service_id, job_id))
    try:
        return {"count": await ctx.notifications.job_count(service_id, job_id)}
    except NotificationsUnavailable as exc:
        raise unavailable() from exc


# -- contact lists (saved uploads of recipients, reused by later jobs) -----------------------------------------------


def contact_list_json(row: Any, job_count: int = 0) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "service_id": str(row.service_id),
        "original_file_name": row.original_file_name,
        "row_count": row.row_count,
        "template_type": row.template_type,
        "created_by": row.created_by_name,
        "created_at": ts(row.created_at),
        "recent_job_count": job_count,
        "has_jobs": job_count > 0,
    }


@router.post("/service/{service_id}/contact-list", status_code=201)
async def save_contact_list(service_id: uuid.UUID, request: Request, ctx: Ctx) -> dict[str, Any]:
    _, upload_id, created_by = await _id_and_author(request)
    author = await _author_name(ctx, created_by)

    def save(conn: Connection) -> dict[str, Any]:
        upload = conn.execute(
            select(uploads).where(uploads.c.id == upload_id, uploads.c.service_id == service_id)
        ).first()
        if upload is None or upload.kind != "contact_list":
            raise not_found("No uploaded contact list found for this id")
        if not upload.valid:
            raise AdminError(400, "File is not valid, can't save contact list")
        row = conn.execute(
            insert(contact_lists)
            .values(
                id=upload_id,
                service_id=service_id,
                upload_id=upload_id,
                original_file_name=upload.original_file_name,
                row_count=upload.notification_count,
                template_type=upload.template_type,
                created_by_id=created_by,
                created_by_name=author,
            )
            .returning(contact_lists)
        ).one()
        return contact_list_json(row)

    try:
        return await ctx.db.transaction(save)
    except IntegrityError as exc:
        raise AdminError(400, {"id": ["This contact list has already been saved"]}) from exc


def _job_counts(conn: Connection, service_id: uuid.UUID) -> dict[uuid.UUID, int]:
    since = datetime.now(UTC) - timedelta(days=7)
    return dict(
        conn.execute(
            select(jobs.c.contact_list_id, func.count())
            .where(
                jobs.c.service_id == service_id,
                jobs.c.contact_list_id.is_not(None),
                jobs.c.created_at >= since,
            )
            .group_by(jobs.c.contact_list_id)
        ).all()
    )


@router.get("/service/{service_id}/contact-list")
async def list_contact_lists(service_id: uuid.UUID, ctx: Ctx) -> list[dict[str, Any]]:
    def read(conn: Connection) -> list[dict[str, Any]]:
        counts = _job_counts(conn, service_id)
        rows = conn.execute(
            select(contact_lists)
            .where(contact_lists.c.service_id == service_id, contact_lists.c.archived.is_(False))
            .order_by(contact_lists.c.created_at.desc())
        ).all()
        return [contact_list_json(r, counts.get(r.id, 0)) for r in rows]

    return await ctx.db.transaction(read)


def _contact_list(conn: Connection, service_id: uuid.UUID, contact_list_id: uuid.UUID) -> Any:
    row = conn.execute(
        select(contact_lists).where(
            contact_lists.c.id == contact_list_id,
            contact_lists.c.service_id == service_id,
            contact_lists.c.archived.is_(False),
        )
    ).first()
    if row is None:
        raise not_found("Contact list not found")
    return row


@router.get("/service/{service_id}/contact-list/{contact_list_id}")
async def get_contact_list(service_id: uuid.UUID, contact_list_id: uuid.UUID, ctx: Ctx) -> dict[str, Any]:
    def read(conn: Connection) -> dict[str, Any]:
        row = _contact_list(conn, service_id, contact_list_id)
        return contact_list_json(row, _job_counts(conn, service_id).get(row.id, 0))

    return await ctx.db.transaction(read)


@router.delete("/service/{service_id}/contact-list/{contact_list_id}", status_code=204)
async def archive_contact_list(service_id: uuid.UUID, contact_list_id: uuid.UUID, ctx: Ctx) -> None:
    """Archived, not deleted: jobs already made from it keep their rows."""

    def archive(conn: Connection) -> None:
        _contact_list(conn, service_id, contact_list_id)
        conn.execute(update(contact_lists).where(contact_lists.c.id == contact_list_id).values(archived=True))

    await ctx.db.transaction(archive)
