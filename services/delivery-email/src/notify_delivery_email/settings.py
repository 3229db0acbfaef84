"""Settings of delivery-email (environment variables, validated at start-up): its database and the SMTP relay."""

from __future__ import annotations

from notify_platform.settings import CommonSettings, DeliveryRetrySettings
from pydantic import Field

DEVELOPMENT_RECEIPT_TOKEN = "notify-email-receipts"  # the dev sink's default (EMAIL_SINK_RECEIPT_TOKEN)


class Settings(CommonSettings, DeliveryRetrySettings):
    # The SMTP defaults point at the local sink (``python -m notify_delivery_email.sink``); real values come
    # from configuration and secrets.
    port: int = 6015
    delivery_email_database_url: str | None = None
    send_concurrency: int = Field(default=50, ge=1)

    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=6025, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_timeout_seconds: float = Field(default=30.0, gt=0)
    # Persistent connections to the relay: at most this many at once, each reused for up to
    # ``smtp_pool_max_messages`` messages and closed after ``smtp_pool_idle_seconds`` unused (below the relay's own
    # idle timeout).
    smtp_pool_size: int = Field(default=25, ge=1)
    smtp_pool_max_messages: int = Field(default=100, ge=1)
    smtp_pool_idle_seconds: float = Field(default=30.0, gt=0)

    # Bearer token the relay's receipt webhook must present on POST /notifications/email/receipts.
    email_receipt_token: str = DEVELOPMENT_RECEIPT_TOKEN

    @property
    def database(self) -> str:
        return self.delivery_email_database_url or self.database_url("delivery_email")
