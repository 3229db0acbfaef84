"""Job statuses (seed 000's nine, plus ``error``), the job object the admin API answers with, and the time rules."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

SCHEDULED = "scheduled"
PENDING = "pending"
IN_PROGRESS = "in progress"
FINISHED = "finished"
ALL_CREATED = "finished all notifications created"
CANCELLED = "cancelled"
LIMITS_EXCEEDED = "sending limits exceeded"
READY_TO_SEND = "ready to send"
SENT_TO_DVLA = "sent to dvla"
ERROR = "error"
STATUSES = (
    SCHEDULED,
    PENDING,
    IN_PROGRESS,
    FINISHED,
    ALL_CREATED,
    CANCELLED,
    LIMITS_EXCEEDED,
    READY_TO_SEND,
    SENT_TO_DVLA,
    ERROR,
)

# Which status may follow which. ``scheduled`` → ``pending`` when due (or ``cancelled`` by the admin);
# ``pending`` → ``in progress`` when a worker takes it, or straight to ``cancelled`` (service inactive) or
# ``sending limits exceeded``; ``in progress`` → ``finished`` when every row was announced; ``finished`` → ``finished
# all notifications created`` once every announced row is stored. The legacy letter states are never entered.
TRANSITIONS: dict[str, frozenset[str]] = {
    SCHEDULED: frozenset({PENDING, CANCELLED}),
    PENDING: frozenset({IN_PROGRESS, CANCELLED, LIMITS_EXCEEDED}),
    IN_PROGRESS: frozenset({FINISHED, CANCELLED, LIMITS_EXCEEDED, ERROR}),
    FINISHED: frozenset({ALL_CREATED}),
    ERROR: frozenset({IN_PROGRESS}),
}


def can_move(current: str, new: str) -> bool:
    return new in TRANSITIONS.get(current, frozenset())


def ts(value: datetime | None) -> str | None:
    """Notify's timestamp format: UTC, six fractional digits, literal Z."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def job_json(job: Any, statistics: list[dict[str, Any]]) -> dict[str, Any]:
    """The job object (admin-api.md §8.3, exact keys)."""
    return {
        "archived": job.archived,
        "contact_list_id": str(job.contact_list_id) if job.contact_list_id else None,
        "created_at": ts(job.created_at),
        "created_by": {"id": str(job.created_by_id), "name": job.created_by_name},
        "id": str(job.id),
        "job_status": job.job_status,
        "notification_count": job.notification_count,
        "original_file_name": job.original_file_name,
        "processing_finished": ts(job.processing_finished),
        "processing_started": ts(job.processing_started),
        "scheduled_for": ts(job.scheduled_for),
        "service": str(job.service_id),
        "service_name": {"name": job.service_name},
        "statistics": statistics,
        "template": str(job.template_id),
        "template_name": job.template_name,
        "template_type": job.template_type,
        "template_version": job.template_version,
        "updated_at": ts(job.updated_at),
    }
