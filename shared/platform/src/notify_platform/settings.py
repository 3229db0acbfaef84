"""Settings common to every service, validated at start-up (never at import)."""

from __future__ import annotations

from typing import Literal

from pydantic import field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

DEVELOPMENT_ADMIN_SECRET = "dev-notify-admin-secret-change-me"
INSECURE_SECRETS = {DEVELOPMENT_ADMIN_SECRET, "", "secret", "changeme", "change-me"}


class CommonSettings(BaseSettings):
    """Connection URLs and environment. Every value can be set by an environment variable of the same name."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    environment: Literal["development", "test", "production"] = "development"
    postgres_url: str = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_prefix: str = "notify:"
    database_prefix: str = "notify_"
    exchange_name: str = "notify"
    log_level: str = "INFO"
    http_host: str = "127.0.0.1"
    prefetch: int = 200
    db_pool_size: int = 10

    def database_url(self, name: str) -> str:
        """URL of this service's own database: the server from POSTGRES_URL, the name prefixed per install."""
        return (
            make_url(self.postgres_url)
            .set(drivername="postgresql+psycopg2", database=f"{self.database_prefix}{name}")
            .render_as_string(hide_password=False)
        )


class AdminAuthSettings(BaseSettings):
    """The shared secret admin clients (issuer ``notify-admin``) sign their JWTs with."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False)

    environment: Literal["development", "test", "production"] = "development"
    notify_admin_client_id: str = "notify-admin"
    notify_admin_client_secret: str = DEVELOPMENT_ADMIN_SECRET

    @model_validator(mode="after")
    def _refuse_insecure_secret(self) -> AdminAuthSettings:
        if self.environment != "development" and (
            self.notify_admin_client_secret in INSECURE_SECRETS or len(self.notify_admin_client_secret) < 16
        ):
            raise ValueError(
                "NOTIFY_ADMIN_CLIENT_SECRET must be set to a real secret (16+ characters) "
                f"outside development (ENVIRONMENT={self.environment})"
            )
        return self


def parse_retry_delays(spec: str) -> tuple[int, ...]:
    """``"1,300x47"`` → one 1 s delay then forty-seven of 300 s: the wait before each retry, in seconds.

    Items are comma-separated; ``<seconds>x<count>`` repeats one. Raises ``ValueError`` for anything else.
    """
    delays: list[int] = []
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        seconds, _, count = item.partition("x")
        try:
            value, times = int(seconds), int(count) if count else 1
        except ValueError:
            raise ValueError(f"not a retry delay: {item!r} (use seconds, or secondsxcount)") from None
        if value < 1 or times < 1:
            raise ValueError(f"retry delays and counts must be positive: {item!r}")
        delays.extend([value] * times)
    return tuple(delays)


class DeliveryRetrySettings(BaseSettings):
    """How a delivery service retries a send that failed for a reason that may pass (behaviour.md §9.5).

    The default is Notify's: retry at once (1 s), then every 5 minutes, 48 retries in all (about 4 hours); after
    the last the notification ends ``technical-failure``. One delay queue exists per distinct delay.
    """

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False)

    delivery_retry_delays: str = "1,300x47"

    @field_validator("delivery_retry_delays")
    @classmethod
    def _parses(cls, value: str) -> str:
        parse_retry_delays(value)
        return value

    @property
    def retry_schedule(self) -> tuple[int, ...]:
        return parse_retry_delays(self.delivery_retry_delays)
