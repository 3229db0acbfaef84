"""The SQL of delivery-letter: PDFs, letters, print batches. Plain functions on the caller's connection, so each
use case decides its own transaction."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Connection, Row

from ..domain.batching import split_batches
from ..domain.schedule import PrintRun
from .print_wire import BatchLetter
from .tables import batches, letters, pdfs, print_runs

# pg_try_advisory_xact_lock key of the collection: one replica collects at a time (the letters themselves are also
# taken FOR UPDATE SKIP LOCKED, so even two collections could never put a letter in two batches).
COLLECT_LOCK = 0x4C_45_54_54  # "LETT"


# --- PDFs ------------------------------------------------------------------------------------------------------
def put_pdf(
    conn: Connection, notification_id: uuid.UUID, service_id: uuid.UUID, data: bytes, *, precompiled: bool
) -> Literal["created", "same", "conflict"]:
    """Store a PDF once. The same bytes again are a no-op ("same"); other bytes or another service "conflict"."""
    digest = hashlib.sha256(data).hexdigest()
    inserted = conn.execute(
        insert(pdfs)
        .values(
            notification_id=notification_id,
            service_id=service_id,
            pdf=data,
            size=len(data),
            sha256=digest,
            precompiled=precompiled,
        )
        .on_conflict_do_nothing(index_elements=["notification_id"])
        .returning(pdfs.c.notification_id)
    ).first()
    if inserted is not None:
        return "created"
    existing = conn.execute(
        select(pdfs.c.service_id, pdfs.c.sha256).where(pdfs.c.notification_id == notification_id)
    ).one()
    return "same" if (existing.service_id, existing.sha256) == (service_id, digest) else "conflict"


def servable_pdf(conn: Connection, notification_id: uuid.UUID, service_id: uuid.UUID) -> bytes | None:
    """The service's letter PDF, unless there is none (yet) or it failed the virus scan."""
    data = conn.execute(
        select(pdfs.c.pdf).where(
            pdfs.c.notification_id == notification_id,
            pdfs.c.service_id == service_id,
            pdfs.c.quarantined.is_(False),
        )
    ).scalar()
    return None if data is None else bytes(data)


def uploaded_pdf(conn: Connection, notification_id: uuid.UUID, service_id: uuid.UUID) -> bytes | None:
    data = conn.execute(
        select(pdfs.c.pdf).where(
            pdfs.c.notification_id == notification_id,
            pdfs.c.service_id == service_id,
            pdfs.c.precompiled.is_(True),
        )
    ).scalar()
    return None if data is None else bytes(data)


def pdf_size(conn: Connection, notification_id: uuid.UUID) -> int | None:
    return conn.execute(select(pdfs.c.size).where(pdfs.c.notification_id == notification_id)).scalar()


def quarantine(conn: Connection, notification_id: uuid.UUID) -> None:
    conn.execute(update(pdfs).where(pdfs.c.notification_id == notification_id).values(quarantined=True))


# --- letters ---------------------------------------------------------------------------------------------------
def queue_letter(conn: Connection, values: dict[str, Any]) -> bool:
    """Add a prepared letter. False if the letter already has a row (a cancellation that arrived first wins)."""
    inserted = conn.execute(
        insert(letters)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["notification_id"])
        .returning(letters.c.notification_id)
    ).first()
    return inserted is not None


def cancel(conn: Connection, cancelled: Iterable[tuple[uuid.UUID, uuid.UUID]]) -> int:
    """Take cancelled letters out of print: any not sent yet (ready, or in a batch not uploaded), and any whose
    request has not arrived yet (a ``cancelled`` row waits for it). Returns how many changed."""
    rows = [{"notification_id": n, "service_id": s, "state": "cancelled"} for n, s in dict(cancelled).items()]
    if not rows:
        return 0
    statement = insert(letters).values(rows)
    statement = statement.on_conflict_do_update(
        index_elements=["notification_id"],
        set_={"state": "cancelled", "updated_at": func.now()},
        where=letters.c.state.in_(("ready", "batched")),
    ).returning(letters.c.notification_id)
    return len(conn.execute(statement).all())


# --- print batches -----------------------------------------------------------------------------------------------
def collect(
    conn: Connection, run: PrintRun, *, now: datetime, max_letters: int, max_bytes: int
) -> list[uuid.UUID] | None:
    """Put every ready letter created before the run's cut-off into new batches; returns their ids (none if, in
    daily mode, this print day was collected already). None if another replica is collecting right now."""
    if not conn.execute(select(func.pg_try_advisory_xact_lock(COLLECT_LOCK))).scalar():
        return None
    if run.print_day is not None:
        done = conn.execute(select(print_runs.c.print_day).where(print_runs.c.print_day == run.print_day))
        if done.first() is not None:
            return []
    ready = conn.execute(
        select(letters.c.notification_id, letters.c.pdf_size)
        .where(letters.c.state == "ready", letters.c.created_at < run.cutoff)
        .order_by(letters.c.created_at, letters.c.notification_id)
        .with_for_update(skip_locked=True)
    ).all()
    made = []
    for group in split_batches(
        [(r.notification_id, r.pdf_size or 0) for r in ready], max_letters=max_letters, max_bytes=max_bytes
    ):
        batch_id = uuid.uuid4()
        conn.execute(
            batches.insert().values(
                id=batch_id,
                state="pending",
                letter_count=len(group),
                cutoff=run.cutoff,
                created_at=now,
                next_attempt_at=now,
            )
        )
        conn.execute(
            update(letters)
            .where(letters.c.notification_id.in_(group), letters.c.state == "ready")
            .values(state="batched", batch_id=batch_id, updated_at=func.now())
        )
        made.append(batch_id)
    if run.print_day is not None:
        conn.execute(print_runs.insert().values(print_day=run.print_day, batches=len(made)))
    return made


@dataclass(frozen=True)
class LeasedBatch:
    id: uuid.UUID
    attempts: int  # including the one about to be made
    created_at: datetime


def lease_batch(conn: Connection, *, now: datetime, lease_seconds: float) -> LeasedBatch | None:
    """Take the oldest batch due for an upload attempt for ``lease_seconds``; None if there is none."""
    due = (
        select(batches.c.id)
        .where(
            batches.c.state == "pending",
            batches.c.next_attempt_at <= now,
            or_(batches.c.leased_until.is_(None), batches.c.leased_until < now),
        )
        .order_by(batches.c.created_at)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    row = conn.execute(
        update(batches)
        .where(batches.c.id == due)
        .values(attempts=batches.c.attempts + 1, leased_until=now + timedelta(seconds=lease_seconds))
        .returning(batches.c.id, batches.c.attempts, batches.c.created_at)
    ).first()
    return None if row is None else LeasedBatch(row.id, row.attempts, row.created_at)


def batch_letters(conn: Connection, batch_id: uuid.UUID) -> list[BatchLetter]:
    """The letters of a batch, with their PDFs, as its upload carries them: every letter but the cancelled ones.
    Letters a receipt already reached stay in (the printer has the batch: a retry is a replay of the same upload)."""
    rows = conn.execute(
        select(
            letters.c.notification_id, letters.c.postage, letters.c.sheets, letters.c.page_count, pdfs.c.pdf
        )
        .join(pdfs, pdfs.c.notification_id == letters.c.notification_id)
        .where(letters.c.batch_id == batch_id, letters.c.state != "cancelled")
        .order_by(letters.c.created_at, letters.c.notification_id)
    )
    return [
        BatchLetter(str(r.notification_id), r.postage, r.sheets, r.page_count, bytes(r.pdf)) for r in rows
    ]


def mark_sent(
    conn: Connection,
    batch_id: uuid.UUID,
    *,
    batch_reference: str,
    references: dict[str, str],
    sent_at: datetime,
) -> list[Row[Any]]:
    """Record an accepted upload; returns the letters it moved to ``sent`` with their references (not those a
    receipt or a cancellation already moved on)."""
    conn.execute(
        update(batches)
        .where(batches.c.id == batch_id, batches.c.state == "pending")
        .values(state="sent", provider_reference=batch_reference[:255], sent_at=sent_at, leased_until=None)
    )
    waiting = conn.execute(
        select(letters.c.notification_id).where(letters.c.batch_id == batch_id, letters.c.state == "batched")
    ).scalars()
    moved = []
    for notification_id in list(waiting):
        reference = references.get(str(notification_id)) or f"{batch_reference}/{notification_id}"
        row = conn.execute(
            update(letters)
            .where(letters.c.notification_id == notification_id, letters.c.state == "batched")
            .values(state="sent", sent_at=sent_at, provider_reference=reference[:255], updated_at=func.now())
            .returning(letters.c.notification_id, letters.c.correlation_id, letters.c.provider_reference)
        ).first()
        if row is not None:
            moved.append(row)
    return moved


def schedule_retry(conn: Connection, batch_id: uuid.UUID, *, error: str, next_attempt_at: datetime) -> None:
    conn.execute(
        update(batches)
        .where(batches.c.id == batch_id, batches.c.state == "pending")
        .values(next_attempt_at=next_attempt_at, leased_until=None, last_error=error[:500])
    )


def mark_failed(conn: Connection, batch_id: uuid.UUID, *, error: str) -> list[Row[Any]]:
    """The upload failed for good: its letters still waiting end ``failed``; returns them."""
    conn.execute(
        update(batches)
        .where(batches.c.id == batch_id, batches.c.state == "pending")
        .values(state="failed", leased_until=None, last_error=error[:500])
    )
    return conn.execute(
        update(letters)
        .where(letters.c.batch_id == batch_id, letters.c.state == "batched")
        .values(state="failed", updated_at=func.now())
        .returning(letters.c.notification_id, letters.c.correlation_id)
    ).all()


def mark_empty(conn: Connection, batch_id: uuid.UUID) -> None:
    conn.execute(
        update(batches)
        .where(and_(batches.c.id == batch_id, batches.c.state == "pending"))
        .values(state="empty", leased_until=None)
    )


# --- receipts ------------------------------------------------------------------------------------------------------
def letters_for_update(conn: Connection, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Row[Any]]:
    rows = conn.execute(
        select(
            letters.c.notification_id,
            letters.c.state,
            letters.c.correlation_id,
            letters.c.provider_reference,
            letters.c.sent_at,
        )
        .where(letters.c.notification_id.in_(ids))
        .order_by(letters.c.notification_id)  # one lock order: concurrent receipt posts never deadlock
        .with_for_update()
    )
    return {r.notification_id: r for r in rows}


def set_state(conn: Connection, notification_id: uuid.UUID, state: str, **values: Any) -> None:
    conn.execute(
        update(letters)
        .where(letters.c.notification_id == notification_id)
        .values(state=state, updated_at=func.now(), **values)
    )
