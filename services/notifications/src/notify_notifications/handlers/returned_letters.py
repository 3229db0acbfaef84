"""letter.returned → the letter becomes ``returned-letter``, the return is recorded and the service's returned-letter
callback queued, all in one transaction.

The print provider reports returns in bulk, days after the letters were delivered. The status change follows the
status rules (``domain.statuses``: a delivered or still sending letter may come back; a rejected or cancelled one,
never printed, cannot) and is announced as ``notification.status_changed`` through the outbox like every other
change. The ``returned_letters`` row is keyed by the notification, so a return reported twice is recorded, announced
and called back once. A return for a notification not stored here is refused (``UnknownNotification``): retried, then
dead-lettered, never dropped.

The callback's ``sent_by`` is the creating user's email address (admin, one-off and job sends; ``API`` for API sends,
which the builder decides), ``template_name`` the name of the template version sent (none for a precompiled letter,
whose template is the service's hidden one). ``spreadsheet_file_name`` is always null: a job's file name is kept by
the jobs service, which notifications does not call from its consumers (a cross-service read inside this transaction
would make a return's recording depend on jobs being up); the row number is given. ``upload_letter_file_name`` is null
too: letters uploaded as a file through the admin keep no file name here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from notify_contracts import Envelope, LetterReturnedV1, NotificationStatusChangedV1, new_envelope
from notify_platform import outbox
from notify_platform.logging import get_logger
from sqlalchemy import and_, bindparam, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Connection

from ..adapters import callback_queue
from ..adapters.tables import notifications, returned_letters, template_versions, users
from ..adapters.tables import outbox as outbox_table
from ..domain import callbacks
from ..domain.statuses import may_apply
from .statuses import PRODUCER, UnknownNotification

log = get_logger(__name__)
RETURNED = "returned-letter"
_RETURN = (
    update(notifications)
    .where(notifications.c.id == bindparam("nid"))
    .values(status=RETURNED, updated_at=bindparam("at"))
)


def _notifications_for_update(conn: Connection, ids: set[Any]) -> dict[Any, Any]:
    n = notifications.c
    return {
        row.id: row
        for row in conn.execute(
            select(
                n.id,
                n.service_id,
                n.notification_type,
                n.key_type,
                n.status,
                n.job_id,
                n.job_row_number,
                n.api_key_id,
                n.created_by_id,
                n.client_reference,
                n.created_at,
                n.sent_at,
                n.template_id,
                n.template_version,
            )
            .where(n.id.in_(ids))
            .order_by(n.id)
            .with_for_update()
        )
    }


def _template_names(conn: Connection, rows: Sequence[Any]) -> dict[tuple[Any, int], str | None]:
    """(template id, version) → the version's name, or None for a hidden (precompiled) template."""
    keys = {(r.template_id, r.template_version) for r in rows}
    if not keys:
        return {}
    t = template_versions.c
    found = conn.execute(
        select(t.id, t.version, t.name, t.hidden).where(
            or_(*(and_(t.id == tid, t.version == version) for tid, version in keys))
        )
    )
    return {(r.id, r.version): None if r.hidden else r.name for r in found}


def _senders(conn: Connection, rows: Sequence[Any]) -> dict[Any, str]:
    ids = {r.created_by_id for r in rows if r.created_by_id is not None}
    if not ids:
        return {}
    found = conn.execute(select(users.c.id, users.c.email_address).where(users.c.id.in_(ids)))
    return {row.id: row.email_address for row in found}


def apply_returns(conn: Connection, envelopes: Sequence[Envelope[Any]]) -> int:
    """Record each returned letter once, move it to ``returned-letter`` and queue its callback. Returns how many
    letters were newly recorded returned."""
    returns: dict[Any, tuple[Envelope[Any], LetterReturnedV1]] = {}
    for env in sorted(envelopes, key=lambda e: e.payload.reported_at):
        if isinstance(env.payload, LetterReturnedV1):
            returns.setdefault(env.payload.notification_id, (env, env.payload))  # the earliest report counts
    if not returns:
        return 0
    rows = _notifications_for_update(conn, set(returns))
    missing = returns.keys() - rows.keys()
    if missing:
        raise UnknownNotification(f"{len(missing)} notification(s) not stored yet")
    returnable = {}
    for nid, row in rows.items():
        if row.notification_type == "letter" and (row.status == RETURNED or may_apply(row.status, RETURNED)):
            returnable[nid] = row
        else:
            log.warning(
                "notification.return_ignored",
                notification_id=str(nid),
                notification_type=row.notification_type,
                status=row.status,
                correlation_id=returns[nid][0].correlation_id,
            )
    if not returnable:
        return 0
    recorded = set(
        conn.execute(
            insert(returned_letters)
            .values(
                [
                    {
                        "notification_id": nid,
                        "service_id": row.service_id,
                        "reported_at": returns[nid][1].reported_at,
                    }
                    for nid, row in returnable.items()
                ]
            )
            .on_conflict_do_nothing(index_elements=["notification_id"])
            .returning(returned_letters.c.notification_id)
        ).scalars()
    )
    events, owed, moved = [], [], []
    newly = [returnable[nid] for nid in sorted(recorded)]
    names = _template_names(conn, newly)
    senders = _senders(conn, newly)
    for row in newly:
        env, report = returns[row.id]
        if may_apply(row.status, RETURNED):
            moved.append({"nid": row.id, "at": report.reported_at})
            log.info(
                "notification.status_changed",
                notification_id=str(row.id),
                previous_status=row.status,
                status=RETURNED,
                correlation_id=env.correlation_id,
            )
            events.append(
                new_envelope(
                    NotificationStatusChangedV1(
                        notification_id=row.id,
                        service_id=row.service_id,
                        notification_type=row.notification_type,
                        key_type=row.key_type,
                        previous_status=row.status,
                        status=RETURNED,
                        sent_at=row.sent_at,
                        completed_at=report.reported_at,
                        job_id=row.job_id,
                    ),
                    producer=PRODUCER,
                    correlation_id=env.correlation_id,
                    causation_id=str(env.event_id),
                )
            )
        owed.append(
            callbacks.returned_letter(
                row,
                sent_by=senders.get(row.created_by_id),
                template_name=names.get((row.template_id, row.template_version)),
                spreadsheet_file_name=None,
                upload_letter_file_name=None,
            )
        )
    if moved:  # one statement for the batch's letters
        conn.execute(_RETURN, moved)
    outbox.write(conn, outbox_table, events)
    callback_queue.enqueue(conn, owed)
    return len(recorded)
