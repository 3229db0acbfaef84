"""Internal document storage for "send a file by email" (public-api.md §8), used only by the gateway.

``POST`` stores an encrypted document and answers its id and the key (which is not kept here); ``GET`` needs that
key in the ``X-Document-Key`` header. When the document asks the recipient to confirm their address, the content
is only returned with a matching ``X-Recipient-Email`` header. Unknown, expired and wrongly keyed documents are
all simply not found. Nothing here logs addresses, file names or contents.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Header
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.engine import Connection

from ..adapters import documents_crypto as dc
from ..adapters.tables import documents
from .deps import Ctx
from .errors import AdminError, not_found

router = APIRouter(prefix="/internal")

MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_FILENAME_CHARS = 100


class NewDocument(BaseModel):
    file: str
    filename: str = Field(min_length=1)
    mime_type: str = Field(min_length=1, max_length=255)
    confirm_email_before_download: bool = True
    retention_weeks: int = Field(default=26, ge=1, le=78)
    recipient: str | None = None


@router.post("/services/{service_id}/documents", status_code=201)
async def create_document(service_id: uuid.UUID, body: NewDocument, ctx: Ctx) -> dict[str, Any]:
    try:
        content = base64.b64decode(body.file, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise AdminError(400, "File is not valid base64") from exc
    if len(content) > MAX_FILE_BYTES:
        raise AdminError(400, "File is larger than 2MB")
    if len(body.filename) > MAX_FILENAME_CHARS:
        raise AdminError(400, "filename cannot be longer than 100 characters")
    if body.confirm_email_before_download and not body.recipient:
        raise AdminError(400, "recipient is required when confirm_email_before_download is true")
    document_id = uuid.uuid4()
    key = dc.new_key()
    now = datetime.now(UTC)
    row = {
        "id": document_id,
        "service_id": service_id,
        "filename": body.filename,
        "mime_type": body.mime_type,
        "size": len(content),
        "content_encrypted": dc.encrypt(key, document_id, content),
        "confirm_email": body.confirm_email_before_download,
        "recipient_hash": dc.recipient_hash(key, body.recipient)
        if body.confirm_email_before_download and body.recipient
        else None,
        "expires_at": now + timedelta(weeks=body.retention_weeks),
        "created_at": now,
    }
    await ctx.db.transaction(lambda conn: conn.execute(documents.insert().values(**row)))
    return {"id": str(document_id), "key": dc.encode_key(key), "expires_at": row["expires_at"].isoformat()}


@router.get("/services/{service_id}/documents/{document_id}")
async def read_document(
    service_id: uuid.UUID,
    document_id: uuid.UUID,
    ctx: Ctx,
    x_document_key: str = Header(default=""),
    x_recipient_email: str | None = Header(default=None),
) -> dict[str, Any]:
    try:
        key = dc.decode_key(x_document_key)
    except dc.BadDocumentKey as exc:
        raise not_found() from exc

    def fetch(conn: Connection) -> Any:
        return conn.execute(
            select(documents).where(
                documents.c.id == document_id,
                documents.c.service_id == service_id,
                documents.c.expires_at > datetime.now(UTC),
            )
        ).first()

    row = await ctx.db.transaction(fetch)
    if row is None:
        raise not_found()
    try:
        content = dc.decrypt(key, row.id, row.content_encrypted)
    except dc.BadDocumentKey as exc:
        raise not_found() from exc
    confirmed = None
    release = not row.confirm_email
    if row.confirm_email and x_recipient_email is not None:
        confirmed = dc.recipient_matches(key, row.recipient_hash, x_recipient_email)
        release = confirmed
    return {
        "id": str(row.id),
        "service_id": str(row.service_id),
        "filename": row.filename,
        "mime_type": row.mime_type,
        "size": row.size,
        "confirm_email_before_download": row.confirm_email,
        "email_confirmed": confirmed,
        "expires_at": row.expires_at.isoformat(),
        "content": base64.b64encode(content).decode() if release else None,
    }
