"""The SQL of delivery-letter: PDFs, letters, print batches. Plain functions on the caller's connection, so each
use case decides its own transaction."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import and_, bindparam, column, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import UUID as PgUUID
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Connection, Row

from ..domain.batching import split_batches
from ..domain.schedule import PrintRun
from .print_wire import BatchLetter
from .tables import batches, letters, pdfs, print_runs, sends

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


def put_pdfs(conn: Connection, rendered: Sequence[tuple[uuid.UUID, uuid.UUID, bytes]]) -> None:
    """Store the PDFs this service rendered (notification id, service id, bytes), in one statement. A PDF already
    stored is left as it is: rendering is deterministic, so a letter prepared again after a crash made the same."""
    if not rendered:
        return
    conn.execute(
        insert(pdfs).on_conflict_do_nothing(index_elements=["notification_id"]),
        [
            {
                "notification_id": nid,
                "service_id": service_id,
                "pdf": data,
                "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
                "precompiled": False,
            }
            for nid, service_id, data in rendered
        ],
    )


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


def quarantine(conn: Connection, notification_ids: Sequence[uuid.UUID]) -> None:
    """Keep these PDFs (they failed the virus scan) but never serve or print them."""
    if notification_ids:
        conn.execute(
            update(pdfs).where(pdfs.c.notification_id.in_(notification_ids)).values(quarantined=True)
        )


# --- the ledger ------------------------------------------------------------------------------------------------
def close_sends(conn: Connection, outcomes: Sequence[tuple[uuid.UUID, str]]) -> None:
    """Close ledger rows: (notification id, "sent" | "failed") each, in one round trip."""
    if outcomes:
        conn.execute(
            update(sends)
            .where(sends.c.notification_id == bindparam("b_id"))
            .values(state=bindparam("b_state")),
            [{"b_id": nid, "b_state": state} for nid, state in outcomes],
        )


# --- letters ---------------------------------------------------------------------------------------------------
def queue_letters(conn: Connection, rows: Sequence[dict[str, Any]]) -> set[uuid.UUID]:
    """Add prepared letters (rows with the same keys), in one statement; returns the ids added (not those that
    already had a row: a cancellation that arrived first wins)."""
    if not rows:
        return set()
    inserted = conn.execute(
        insert(letters)
        .on_conflict_do_nothing(index_elements=["notification_id"])
        .returning(letters.c.notification_id),
        list(rows),
    )
    return set(inserted.scalars())


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


# One round trip: every letter of the batch still waiting (not cancelled, not moved on by a receipt) goes to
# ``sent`` with the provider's reference for it (``<batch reference>/<id>`` if the answer named none).
_MARK_SENT = text(
    """
    UPDATE letters AS l
    SET state = 'sent', sent_at = :sent_at, updated_at = now(),
        provider_reference = left(coalesce(r.reference, :batch_reference || '/' || l.notification_id::text), 255)
    FROM letters AS w
    LEFT JOIN unnest(CAST(:ids AS uuid[]), CAST(:references AS text[])) AS r (notification_id, reference)
        ON r.notification_id = w.notification_id
    WHERE w.batch_id = :batch_id AND w.state = 'batched'
        AND l.notification_id = w.notification_id AND l.state = 'batched'
    RETURNING l.notification_id, l.correlation_id, l.provider_reference
    """
).columns(
    column("notification_id", PgUUID(as_uuid=True)), column("correlation_id"), column("provider_reference")
)


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
    ids, refs = [], []
    for notification_id, reference in references.items():
        try:
            ids.append(str(uuid.UUID(notification_id)))
        except ValueError:  # not one of ours: it matches no letter
            continue
        refs.append(reference)
    return list(
        conn.execute(
            _MARK_SENT,
            {
                "sent_at": sent_at,
                "batch_reference": batch_reference,
                "ids": ids,
                "references": refs,
                "batch_id": batch_id,
            },
        )
    )


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


def letters_by_reference_for_update(conn: Connection, references: Sequence[str]) -> dict[str, Row[Any]]:
    """The letters the printer knows by these references (its own, recorded from its upload answer or a receipt),
    locked in the same order as ``letters_for_update`` locks them."""
    rows = conn.execute(
        select(
            letters.c.notification_id,
            letters.c.state,
            letters.c.correlation_id,
            letters.c.provider_reference,
        )
        .where(letters.c.provider_reference.in_(references))
        .order_by(letters.c.notification_id)
        .with_for_update()
    )
    return {r.provider_reference: r for r in rows}


def set_state(conn: Connection, notification_id: uuid.UUID, state: str, **values: Any) -> None:
    conn.execute(
        update(letters)
        .where(letters.c.notification_id == notification_id)
        .values(state=state, updated_at=func.now(), **values)
    )


_SET_STATES = text(
    """
    UPDATE letters AS l
    SET state = c.state, updated_at = now(), provider_reference = coalesce(l.provider_reference, c.reference)
    FROM unnest(CAST(:ids AS uuid[]), CAST(:states AS text[]), CAST(:references AS text[]))
        AS c (notification_id, state, reference)
    WHERE l.notification_id = c.notification_id
    """
)


def set_states(conn: Connection, changes: dict[uuid.UUID, tuple[str, str | None]]) -> None:
    """Move letters to new states in one round trip: notification id -> (state, provider reference to record if
    the letter has none yet)."""
    if not changes:
        return
    conn.execute(
        _SET_STATES,
        {
            "ids": [str(nid) for nid in changes],
            "states": [state for state, _ in changes.values()],
            "references": [reference for _, reference in changes.values()],
        },
    )
