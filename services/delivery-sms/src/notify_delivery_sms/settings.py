"""Settings of delivery-sms: its database, the two SMS providers it can send through, and the failover rules."""

from __future__ import annotations

from datetime import timedelta

from notify_platform.settings import CommonSettings, DeliveryRetrySettings
from pydantic import Field

from .domain.priorities import Rules

PROVIDER_NAMES = ("mmg", "firetext")


class Settings(CommonSettings, DeliveryRetrySettings):
    # Provider credentials default to the local simulators' development values; real ones come from secrets.
    port: int = 6014
    delivery_sms_database_url: str | None = None
    send_concurrency: int = 100

    mmg_url: str = "http://127.0.0.1:6021"
    mmg_username: str = "notify"
    mmg_password: str = "notify-sms-simulator"
    mmg_receipt_username: str = "notify"
    mmg_receipt_password: str = "notify-sms-receipts"
    mmg_resting_priority: int = Field(default=51, ge=0, le=100)
    mmg_supports_international: bool = True

    firetext_url: str = "http://127.0.0.1:6022"
    firetext_username: str = "notify"
    firetext_password: str = "notify-sms-simulator"
    firetext_receipt_username: str = "notify"
    firetext_receipt_password: str = "notify-sms-receipts"
    firetext_resting_priority: int = Field(default=49, ge=0, le=100)
    firetext_supports_international: bool = False

    # Failover (behaviour.md §10). Priorities live in the database; each process re-reads them this often.
    sms_priority_refresh_seconds: float = Field(default=2.0, gt=0)
    sms_priority_step: int = Field(default=10, ge=1, le=100)
    # More than this many failed sends at one provider within the window move priority away from it ...
    sms_error_threshold: int = Field(default=50, ge=0)
    sms_error_window_seconds: float = Field(default=60.0, gt=0)
    # ... unless either provider's priority changed this recently.
    sms_error_guard_seconds: float = Field(default=60.0, ge=0)
    # Every interval: a provider with at least this fraction of the texts created within the window delivered
    # (or still awaited) later than the delivery threshold after sending is slow.
    sms_slow_check_interval_seconds: float = Field(default=60.0, gt=0)
    sms_slow_created_within_seconds: float = Field(default=900.0, gt=0)
    sms_slow_delivery_seconds: float = Field(default=300.0, gt=0)
    sms_slow_fraction: float = Field(default=0.15, gt=0, le=1)
    sms_slow_guard_seconds: float = Field(default=300.0, ge=0)
    # Every interval: if no priority changed within the quiet period, each moves one step towards its resting point.
    sms_drift_interval_seconds: float = Field(default=300.0, gt=0)
    sms_drift_quiet_seconds: float = Field(default=900.0, ge=0)

    @property
    def database(self) -> str:
        return self.delivery_sms_database_url or self.database_url("delivery_sms")

    def provider_configs(self) -> dict[str, dict[str, str]]:
        return {
            name: {
                "base_url": getattr(self, f"{name}_url"),
                "username": getattr(self, f"{name}_username"),
                "password": getattr(self, f"{name}_password"),
                "receipt_username": getattr(self, f"{name}_receipt_username"),
                "receipt_password": getattr(self, f"{name}_receipt_password"),
            }
            for name in PROVIDER_NAMES
        }

    def resting_priorities(self) -> dict[str, int]:
        return {name: getattr(self, f"{name}_resting_priority") for name in PROVIDER_NAMES}

    def supports_international(self) -> dict[str, bool]:
        return {name: getattr(self, f"{name}_supports_international") for name in PROVIDER_NAMES}

    def failover_rules(self) -> Rules:
        return Rules(
            step=self.sms_priority_step,
            error_threshold=self.sms_error_threshold,
            error_window=timedelta(seconds=self.sms_error_window_seconds),
            error_guard=timedelta(seconds=self.sms_error_guard_seconds),
            slow_created_within=timedelta(seconds=self.sms_slow_created_within_seconds),
            slow_delivery=timedelta(seconds=self.sms_slow_delivery_seconds),
            slow_fraction=self.sms_slow_fraction,
            slow_guard=timedelta(seconds=self.sms_slow_guard_seconds),
            drift_quiet=timedelta(seconds=self.sms_drift_quiet_seconds),
        )
