"""Sink settings: every field can be set by an ``EMAIL_SINK_<FIELD>`` environment variable."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class SinkSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="EMAIL_SINK_", env_file=None, extra="ignore", case_sensitive=False
    )

    host: str = "127.0.0.1"
    smtp_port: int = Field(default=6025, ge=0, le=65535)
    http_port: int = Field(default=6026, ge=0, le=65535)

    # Where receipts are POSTed (None: no receipts), with ``Authorization: Bearer <receipt_token>``.
    receipt_url: str | None = None
    receipt_token: str = "notify-email-receipts"
    receipt_delay_ms: int = Field(default=200, ge=0)
    # Receipts are POSTed by this many workers sharing one HTTP client (kept-alive connections).
    receipt_workers: int = Field(default=32, ge=1, le=1024)
    # Failed POSTs (refused, timed out, non-2xx) are retried with exponential backoff for this long.
    receipt_timeout_ms: int = Field(default=5000, ge=1)
    receipt_retry_initial_ms: int = Field(default=250, ge=1)
    receipt_retry_max_ms: int = Field(default=10_000, ge=1)
    receipt_retry_for_seconds: float = Field(default=300.0, ge=0.0)

    log_level: str = "INFO"
