"""Delivery receipts, posted back to delivery-sms as a provider does: in order, retried with backoff while the
receiver is down (``notify_platform.webhooks``), with the basic-auth credentials from the simulator's settings."""

from __future__ import annotations

import aiohttp
from notify_platform.webhooks import PosterConfig, Webhook, WebhookPoster

from .settings import SimulatorSettings

PendingReceipt = Webhook  # key: the notification id


def receipt_poster(settings: SimulatorSettings) -> WebhookPoster:
    auth = aiohttp.encode_basic_auth(settings.receipt_username, settings.receipt_password)
    return WebhookPoster(
        PosterConfig.from_settings(
            settings, name="sms", key_field="notification_id", headers={"Authorization": auth}
        )
    )
