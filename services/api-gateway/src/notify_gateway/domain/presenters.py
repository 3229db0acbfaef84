"""Public v2 response bodies built from internal records (public-api.md §5, §6)."""

from __future__ import annotations

from typing import Any

from .letter_dates import estimated_delivery

LETTER_STATUS = {
    "created": "accepted",
    "sending": "accepted",
    "delivered": "received",
    "returned-letter": "received",
}
SMS_RATE = 0.0227  # pounds per fragment; a flat example rate until billing rates are configurable


def public_status(notification_type: str, status: str) -> str:
    return LETTER_STATUS.get(status, status) if notification_type == "letter" else status


def template_ref(root: str, template_id: str, version: int, *, post: bool, service_id: str) -> dict[str, Any]:
    uri = (
        f"{root}services/{service_id}/templates/{template_id}"
        if post
        else f"{root}v2/template/{template_id}/version/{version}"
    )
    return {"id": template_id, "version": version, "uri": uri}


def _cost(n: dict[str, Any]) -> tuple[dict[str, Any], float | None, bool]:
    kind = n["notification_type"]
    if kind == "email":
        return {}, 0.0, True
    if kind == "sms":
        if n["status"] == "created" and not n.get("billable_units"):
            return {}, None, False
        units = n.get("billable_units") or 0
        multiplier = n.get("rate_multiplier") or 1.0
        details = {
            "billable_sms_fragments": units,
            "international_rate_multiplier": multiplier,
            "sms_rate": SMS_RATE,
        }
        return details, round(units * multiplier * SMS_RATE, 4), True
    return {}, None, False


def notification_body(n: dict[str, Any], root: str) -> dict[str, Any]:
    """The §6.1 object for one notification."""
    kind = n["notification_type"]
    personalisation = n.get("personalisation") or {}
    letter = kind == "letter"
    details, cost, ready = _cost(n)
    status = n["status"]
    body: dict[str, Any] = {
        "id": n["id"],
        "reference": n.get("client_reference"),
        "email_address": n["recipient"] if kind == "email" else None,
        "phone_number": n["recipient"] if kind == "sms" else None,
        **{f"line_{i}": (personalisation.get(f"address_line_{i}") if letter else None) for i in range(1, 7)},
        "postcode": personalisation.get("postcode") if letter else None,
        "type": kind,
        "status": public_status(kind, status),
        "template": template_ref(
            root, n["template_id"], n["template_version"], post=False, service_id=n["service_id"]
        ),
        "body": n["body"],
        "subject": n.get("subject"),
        "created_at": n["created_at"],
        "created_by_name": n.get("created_by_name"),
        "sent_at": n.get("sent_at"),
        "completed_at": n.get("completed_at"),
        "scheduled_for": None,
        "postage": n.get("postage") if letter else None,
        "one_click_unsubscribe_url": n.get("one_click_unsubscribe_url"),
        # letters only (§6.1): the latest expected delivery, behaviour.md §8
        **({"estimated_delivery": estimated_delivery(n["created_at"], n.get("postage"))} if letter else {}),
        "is_cost_data_ready": ready,
        "cost_in_pounds": cost,
        "cost_details": details,
    }
    return body
