"""Simulator settings: every field can be set by an ``SMS_SIM_<FIELD>`` environment variable."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class SimulatorSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SMS_SIM_", env_file=None, extra="ignore", case_sensitive=False
    )

    flavour: Literal["mmg", "firetext"] = "mmg"
    host: str = "127.0.0.1"
    port: int = Field(default=6021, ge=0, le=65535)

    # Credentials the simulator requires on sends and lookups (firetext: ``password`` is the API key).
    username: str = "notify"
    password: str = "notify-sms-simulator"

    # Where receipts are POSTed (None: no receipts) and the basic-auth credentials sent with them.
    receipt_url: str | None = None
    receipt_username: str = "notify"
    receipt_password: str = "notify-sms-receipts"
    receipt_delay_ms: int = Field(default=200, ge=0)
    # Where ``POST /inbound`` sends a received text, in this provider's format, with the receipt credentials
    # (None: texts cannot be sent to the platform).
    inbound_url: str | None = None

    latency_ms: int = Field(default=0, ge=0)
    error_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    seed: int | None = None

    # Firetext flavour: a temporary failure is preceded by a "pending" receipt (as Firetext does).
    firetext_pending: bool = True

    # Receipt delivery: a bounded pool of workers sharing one HTTP client; failed POSTs are retried with
    # exponential backoff (capped at receipt_retry_max_ms) until receipt_retry_for_seconds have passed.
    receipt_workers: int = Field(default=64, ge=1, le=1024)
    receipt_timeout_ms: int = Field(default=5000, ge=1)
    receipt_retry_initial_ms: int = Field(default=250, ge=1)
    receipt_retry_max_ms: int = Field(default=10_000, ge=1)
    receipt_retry_for_seconds: float = Field(default=300.0, ge=0.0)

    log_level: str = "INFO"
