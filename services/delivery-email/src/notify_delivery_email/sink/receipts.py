"""The sink's SES-like receipts, posted back to delivery-email as SES does: in order, retried with backoff while the
receiver is down (``notify_platform.webhooks``), with a bearer token.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from notify_platform.webhooks import PosterConfig, Webhook, WebhookPoster

from .settings import SinkSettings


def receipt_bodies(message_id: str, outcome: str) -> list[dict[str, Any]]:
    """SES-like notifications for one message, in the order they are to be delivered."""
    now = datetime.now(UTC).isoformat()
    mail = {"messageId": message_id, "timestamp": now}
    delivery = {"notificationType": "Delivery", "mail": mail, "delivery": {"timestamp": now}}
    if outcome == "permanent-bounce":
        return [{"notificationType": "Bounce", "mail": mail, "bounce": {"bounceType": "Permanent"}}]
    if outcome == "temporary-bounce":
        return [{"notificationType": "Bounce", "mail": mail, "bounce": {"bounceType": "Transient"}}]
    if outcome == "complaint":
        return [delivery, {"notificationType": "Complaint", "mail": mail, "complaint": {"timestamp": now}}]
    return [delivery]


def receipt_poster(settings: SinkSettings) -> WebhookPoster:
    return WebhookPoster(
        PosterConfig.from_settings(
            settings, name="email", headers={"Authorization": f"Bearer {settings.receipt_token}"}
        )
    )


def schedule_receipts(poster: WebhookPoster, reference: str, bodies: list[dict[str, Any]]) -> None:
    """POST ``bodies`` in order, each ``receipt_delay_ms`` after the previous one landed."""
    first: Webhook | None = None
    for body in reversed(bodies):
        first = Webhook(reference, orjson.dumps(body), then=first)
    if first is not None:
        poster.schedule(first)
