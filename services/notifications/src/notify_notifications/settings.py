"""Settings of the notifications service (environment variables, validated at start-up)."""

from __future__ import annotations

from notify_platform.settings import CommonSettings
from pydantic import model_validator

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

    @property
    def database(self) -> str:
        return self.notifications_database_url or self.database_url("notifications")

    @property
    def secret_keys(self) -> list[str]:
        return [k.strip() for k in self.notify_secret_keys.split(",") if k.strip()]

    @model_validator(mode="after")
    def _refuse_insecure(self) -> Settings:
        if self.environment != "development" and (
            DEVELOPMENT_SECRET_KEY in self.secret_keys or any(len(k) < 16 for k in self.secret_keys)
        ):
            raise ValueError(
                "NOTIFY_SECRET_KEYS must be set to real secrets (16+ characters) outside development"
            )
        return self
