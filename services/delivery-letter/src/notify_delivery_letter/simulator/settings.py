"""Print simulator settings: every field can be set by a ``PRINT_SIM_<FIELD>`` environment variable."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from ..adapters.print_wire import RECEIPT_PATH, RETURNED_PATH


class PrintSimulatorSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PRINT_SIM_", env_file=None, extra="ignore", case_sensitive=False
    )

    host: str = "127.0.0.1"
    port: int = Field(default=6027, ge=0, le=65535)

    # Credentials the simulator requires on uploads (delivery-letter's PRINT_PROVIDER_USERNAME / _PASSWORD).
    username: str = "notify"
    password: str = "notify-print-simulator"

    # Where receipts are POSTed (None: no receipts) and the basic-auth credentials sent with them
    # (delivery-letter's PRINT_RECEIPT_USERNAME / _PASSWORD).
    receipt_url: str | None = None
    # Where returned-letter reports are POSTed (``POST /returned`` on the simulator); unset: next to receipt_url.
    returned_url: str | None = None
    receipt_username: str = "notify"
    receipt_password: str = "notify-print-receipts"

    latency_ms: int = Field(
        default=0, ge=0
    )  # an accepted upload is answered this late (it is recorded first)
    error_rate: float = Field(default=0.0, ge=0.0, le=1.0)  # share of uploads refused with 503 (nothing kept)
    despatch_delay_ms: int = Field(default=1000, ge=0)  # DESPATCHED / REJECTED receipts, after the upload
    return_delay_ms: int = Field(default=5000, ge=0)  # RETURNED receipts, after the despatch receipts
    receipt_retry_for_seconds: float = Field(default=600.0, ge=0.0)
    max_upload_bytes: int = Field(default=512 * 1024 * 1024, ge=1)
    seed: int | None = None

    log_level: str = "INFO"

    @property
    def returned_report_url(self) -> str | None:
        if self.returned_url:
            return self.returned_url
        if self.receipt_url and self.receipt_url.endswith(RECEIPT_PATH):
            return self.receipt_url[: -len(RECEIPT_PATH)] + RETURNED_PATH
        return None
