"""``POST /service/{id}/job/upload`` and ``POST /service/{id}/contact-list/upload``: a file in, a per-row report out.

Notify's admin app puts the file in object storage and checks it itself; here the jobs service takes the file
(multipart ``file``), reads it as a stream in a worker thread, checks every row, and stores the rows as normalised
CSV chunks in its own database in the same transaction as the report, so a job created from a valid upload always
finds its rows. Nothing about the file's contents is logged.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any, BinaryIO

from fastapi import APIRouter, Request
from notify_platform.admin_errors import AdminError, missing, not_found, parse_uuid
from notify_platform.db import Database
from notify_platform.logging import get_logger
from sqlalchemy import insert, select
from sqlalchemy.engine import Connection
from starlette.datastructures import UploadFile

from ..adapters import storage
from ..adapters.notifications_client import NotificationsUnavailable
from ..adapters.tables import contact_lists, uploads
from ..domain.rows import FileChecker, ServiceRules, TemplateInfo
from ..domain.spreadsheet import FileRejected, read_rows
from ..sending import service_rules, template_info
from .deps import Context, Ctx

log = get_logger(__name__)
router = APIRouter()
CHANNELS = ("sms", "email", "letter")


def unavailable() -> AdminError:
    return AdminError(503, "Service temporarily unavailable")


async def load_service(ctx: Context, service_id: uuid.UUID) -> dict[str, Any]:
    try:
        service = await ctx.notifications.service(service_id)
    except NotificationsUnavailable as exc:
        raise unavailable() from exc
    if service is None:
        raise not_found()
    return service


async def load_template(
    ctx: Context, service_id: uuid.UUID, template_id: uuid.UUID, version: int | None = None
) -> dict[str, Any]:
    try:
        template = await ctx.notifications.template(service_id, template_id, version)
    except NotificationsUnavailable as exc:
        raise unavailable() from exc
    if template is None or template.get("hidden"):
        raise AdminError(400, {"template": ["Template not found"]})
    return template


async def _form(request: Request, ctx: Context) -> Any:
    limit = ctx.settings.job_max_file_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + 64 * 1024:
        raise _too_large(limit)
    try:
        return await request.form(max_files=1, max_fields=10)
    except Exception as exc:  # not multipart, or a malformed body
        raise AdminError(
            400, {"file": ["Upload the file as multipart/form-data in a field called ‘file’"]}
        ) from exc


def _too_large(limit: int) -> AdminError:
    return AdminError(413, {"file": [f"The file must be smaller than {limit // (1024 * 1024)} MB"]})


def _checker(template: TemplateInfo, rules: ServiceRules, settings: Any) -> FileChecker:
    return FileChecker(
        template, rules, max_rows=settings.job_max_rows, max_reported_errors=settings.job_max_reported_errors
    )


def check_and_store(
    db: Database,
    *,
    upload_id: uuid.UUID,
    service_id: uuid.UUID,
    kind: str,
    source: BinaryIO,
    file_name: str,
    template: TemplateInfo,
    rules: ServiceRules,
    template_id: uuid.UUID | None,
    template_version: int | None,
    settings: Any,
) -> dict[str, Any]:
    """Read, check and store every row in one transaction; answers the report (blocking: run in a thread).

    The upload is first copied to a named temporary file (the spreadsheet reader opens a path; Starlette's spooled
    upload has none), which is gone when this returns."""
    checker = _checker(template, rules, settings)
    with tempfile.NamedTemporaryFile(suffix=Path(file_name).suffix) as copy, db.unit_of_work() as conn:
        source.seek(0)
        shutil.copyfileobj(source, copy, 1 << 20)
        copy.flush()
        stream, csv_out = storage.writer(conn, upload_id, settings.job_upload_chunk_bytes)
        rows = read_rows(copy.name, file_name)
        header = next(rows, None)
        checker.header(header or [])
        if header is not None:
            csv_out.writerow(header)
        stored = 0
        for cells in rows:
            checker.row(cells)
            if stored < settings.job_max_rows:  # past the limit the file is refused: count, don't keep
                csv_out.writerow(cells)
                stored += 1
        stream.close()
        report = checker.report()
        if not report.valid:  # it can never become a job or a list: its report is kept, its rows are not
            storage.forget(conn, upload_id)
        return record_upload(
            conn,
            upload_id=upload_id,
            service_id=service_id,
            kind=kind,
            data_id=upload_id,
            template_type=template.template_type,
            template_id=template_id,
            template_version=template_version,
            file_name=file_name,
            report=report,
            size_bytes=stream.size,
        )


def record_upload(
    conn: Connection,
    *,
    upload_id: uuid.UUID,
    service_id: uuid.UUID,
    kind: str,
    data_id: uuid.UUID,
    template_type: str,
    template_id: uuid.UUID | None,
    template_version: int | None,
    file_name: str,
    report: Any,
    size_bytes: int,
    contact_list_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    """Store a checked upload's report (its rows are under ``data_id``) and answer it."""
    conn.execute(
        insert(uploads).values(
            id=upload_id,
            service_id=service_id,
            kind=kind,
            data_id=data_id,
            template_id=template_id,
            template_version=template_version,
            template_type=template_type,
            original_file_name=file_name,
            notification_count=report.notification_count,
            valid=report.valid,
            error_count=report.error_count,
            errors=[e.as_dict() for e in report.errors],
            size_bytes=size_bytes,
            contact_list_id=contact_list_id,
        )
    )
    return {
        "id": str(upload_id),
        "original_file_name": file_name,
        **report.as_dict(),
        "template_id": str(template_id) if template_id else None,
        "template_version": template_version,
        "template_type": template_type,
    }


async def _checked(
    ctx: Context,
    *,
    service_id: uuid.UUID,
    kind: str,
    file: Any,
    template: TemplateInfo,
    rules: ServiceRules,
    template_id: uuid.UUID | None,
    template_version: int | None,
) -> dict[str, Any]:
    if not isinstance(file, UploadFile) or not file.filename:
        raise missing("file")
    if file.size is not None and file.size > ctx.settings.job_max_file_bytes:
        raise _too_large(ctx.settings.job_max_file_bytes)
    file_name = Path(file.filename).name[:255]
    upload_id = uuid.uuid4()
    try:
        data = await asyncio.to_thread(
            check_and_store,
            ctx.db,
            upload_id=upload_id,
            service_id=service_id,
            kind=kind,
            source=file.file,
            file_name=file_name,
            template=template,
            rules=rules,
            template_id=template_id,
            template_version=template_version,
            settings=ctx.settings,
        )
    except FileRejected as exc:
        raise AdminError(400, {"file": [exc.message]}) from exc
    finally:
        await file.close()
    log.info(
        "jobs.upload_checked",
        upload_id=str(upload_id),
        service_id=str(service_id),
        kind=kind,
        rows=data["notification_count"],
        valid=data["valid"],
        error_count=data["error_count"],
    )
    return data


@router.post("/service/{service_id}/job/upload", status_code=201)
async def upload_for_job(service_id: uuid.UUID, request: Request, ctx: Ctx) -> dict[str, Any]:
    form = await _form(request, ctx)
    if not form.get("template_id"):
        raise missing("template_id")
    template_id = parse_uuid("template_id", form.get("template_id"))
    service = await load_service(ctx, service_id)
    template = await load_template(ctx, service_id, template_id)
    if template["archived"]:
        raise AdminError(400, {"template": ["Template has been deleted"]})
    info = template_info(service, template)
    rules = service_rules(service, template["template_type"])
    if form.get("contact_list_id"):
        data = await _from_contact_list(
            ctx, service_id, parse_uuid("contact_list_id", form["contact_list_id"]), template, info, rules
        )
    else:
        data = await _checked(
            ctx,
            service_id=service_id,
            kind="job",
            file=form.get("file"),
            template=info,
            rules=rules,
            template_id=template_id,
            template_version=template["version"],
        )
    return {"data": data}


async def _from_contact_list(
    ctx: Context,
    service_id: uuid.UUID,
    contact_list_id: uuid.UUID,
    template: dict[str, Any],
    info: TemplateInfo,
    rules: ServiceRules,
) -> dict[str, Any]:
    """A job upload made of a saved contact list's rows (checked again, against this template's columns)."""

    def check(conn: Connection) -> dict[str, Any]:
        saved = conn.execute(
            select(contact_lists, uploads.c.data_id, uploads.c.size_bytes)
            .join(uploads, uploads.c.id == contact_lists.c.upload_id)
            .where(contact_lists.c.id == contact_list_id, contact_lists.c.service_id == service_id)
        ).first()
        if saved is None or saved.archived:
            raise not_found("Contact list not found")
        if saved.template_type != info.template_type:
            raise AdminError(
                400,
                {
                    "contact_list_id": [
                        f"This contact list is for {saved.template_type}, not {info.template_type}"
                    ]
                },
            )
        checker = _checker(info, rules, ctx.settings)
        rows = storage.stored_rows(conn, saved.data_id)
        checker.header(next(rows, None) or [])
        for cells in rows:
            checker.row(cells)
        return record_upload(
            conn,
            upload_id=uuid.uuid4(),
            service_id=service_id,
            kind="job",
            data_id=saved.data_id,
            template_type=info.template_type,
            template_id=uuid.UUID(template["id"]),
            template_version=template["version"],
            file_name=saved.original_file_name,
            report=checker.report(),
            size_bytes=saved.size_bytes,
            contact_list_id=contact_list_id,
        )

    return await ctx.db.transaction(check)


@router.post("/service/{service_id}/contact-list/upload", status_code=201)
async def upload_contact_list(service_id: uuid.UUID, request: Request, ctx: Ctx) -> dict[str, Any]:
    """A list of recipients only (a column per recipient kind, no template): checked, then saved with
    ``POST /service/{id}/contact-list`` and reused by later job uploads (``contact_list_id``)."""
    form = await _form(request, ctx)
    kind = form.get("template_type")
    if not kind:
        raise missing("template_type")
    if kind not in ("sms", "email"):
        raise AdminError(400, {"template_type": ["Contact lists are for sms or email"]})
    service = await load_service(ctx, service_id)
    info = TemplateInfo(template_type=str(kind), content="", recipients_only=True)
    data = await _checked(
        ctx,
        service_id=service_id,
        kind="contact_list",
        file=form.get("file"),
        template=info,
        rules=service_rules(service, str(kind)),
        template_id=None,
        template_version=None,
    )
    return {"data": data}
