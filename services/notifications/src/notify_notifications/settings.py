"""Settings of the notifications service (environment variables, validated at start-up)."""

from __future__ import annotations

from notify_platform.settings import CommonSettings
from pydantic import Field, model_validator

DEVELOPMENT_SECRET_KEY = "dev-notify-secret-key-change-me"


class Settings(CommonSettings):
    port: int = 6012
    notifications_database_url: str | None = None
    # Encrypts API key secrets at rest. Comma-separated: the first encrypts, every one decrypts (rotation).
    notify_secret_keys: str = DEVELOPMENT_SECRET_KEY
    default_sms_sender: str = "GOVUK"
    email_domain: str = "notifications.service.gov.uk"
    status_batch_size: int = 200
    # The platform's own service, which sends admin users their sign-in codes (made on first use).
    notify_service_id: str = "d6aa2c68-a2d9-4437-ab19-3ae8eb202553"
    notify_service_user_id: str = "6af522d0-2915-4e52-83a3-3690455a5fe6"
    notify_service_name: str = "Notify platform"
    # Where the admin web app runs: sign-in links in emailed codes point there unless the request names a host.
    admin_base_url: str = "http://localhost:6013"
    # Texts and emails still sending/pending this long after creation become temporary-failure (behaviour.md §9.6).
    sending_timeout_seconds: float = 259_200
    sending_sweep_interval_seconds: float = 600
    # Service callbacks (behaviour.md §11): the POST's timeout; the waits before each retry (connection errors,
    # timeouts, 5xx and 429 only; 5 retries 300 s apart); concurrency overall and per service.
    callback_timeout_seconds: float = 5.0
    callback_retry_delays: str = "300,300,300,300,300"
    callback_max_in_flight: int = Field(64, ge=1)
    callback_max_in_flight_per_service: int = Field(4, ge=1)
    callback_poll_interval_seconds: float = Field(0.5, gt=0)
    # The SSRF guard: networks a callback may reach although they are not public (comma-separated CIDRs), and
    # whether plain http is allowed. Unset: loopback and http allowed in development and test (a local receiver
    # works with `make run`), neither in production.
    callback_allowed_networks: str | None = None
    callback_allow_http: bool | None = None

    @property
    def database(self) -> str:
        return self.notifications_database_url or self.database_url("notifications")

    @property
    def callback_retry_delay_seconds(self) -> list[float]:
        return [float(d) for d in self.callback_retry_delays.split(",") if d.strip()]

    @property
    def callback_networks(self) -> str:
        if self.callback_allowed_networks is not None:
            return self.callback_allowed_networks
        return "" if self.environment == "production" else "127.0.0.0/8,::1/128"

    @property
    def callback_http_allowed(self) -> bool:
        return (
            self.environment != "production" if self.callback_allow_http is None else self.callback_allow_http
        )

    @property
    def secret_keys(self) -> list[str]:
        return [k.strip() for k in self.notify_secret_keys.split(",") if k.strip()]

    @model_validator(mode="after")
    def _refuse_plain_http_callbacks_in_production(self) -> Settings:
        if self.environment == "production" and self.callback_allow_http:
            raise ValueError(
                "CALLBACK_ALLOW_HTTP cannot be true in production: callbacks carry personal data"
            )
        return self

    @model_validator(mode="after")
    def _refuse_insecure(self) -> Settings:
        if self.environment != "development" and (
            DEVELOPMENT_SECRET_KEY in self.secret_keys or any(len(k) < 16 for k in self.secret_keys)
        ):
            raise ValueError(
                "NOTIFY_SECRET_KEYS must be set to real secrets (16+ characters) outside development"
            )
        return self
