"""Settings of delivery-letter (environment variables, validated at start-up): its database, the print provider,
the print schedule and the limits on letters."""

from __future__ import annotations

import os
from datetime import date, time
from typing import Literal

from notify_platform.settings import CommonSettings
from pydantic import Field, model_validator

# The local print simulator's development credentials (``python -m notify_delivery_letter.simulator``).
DEVELOPMENT_PRINT_PASSWORD = "notify-print-simulator"
DEVELOPMENT_RECEIPT_PASSWORD = "notify-print-receipts"


class Settings(CommonSettings):
    port: int = 6016
    delivery_letter_database_url: str | None = None

    # The print provider: batches are uploaded to <url>/batches (HTTPS in production), with basic auth.
    print_provider_url: str = "http://127.0.0.1:6027"
    print_provider_name: str = "print-provider"  # reported as the notification's provider (``sent_by``)
    print_provider_username: str = "notify"
    print_provider_password: str = DEVELOPMENT_PRINT_PASSWORD
    # Basic-auth credentials the provider's receipts must present on POST /notifications/letter/receipts.
    print_receipt_username: str = "notify"
    print_receipt_password: str = DEVELOPMENT_RECEIPT_PASSWORD

    # Uploads: retryable failures (timeouts, connection errors, 5xx, 408, 429) are retried this many times, this
    # far apart (behaviour.md §8: 55 times, about 3 minutes apart); anything else ends technical-failure. A batch
    # being uploaded is leased for lease seconds: a worker that dies mid-upload leaves it to be retried (with the
    # same idempotency key) once the lease runs out.
    print_upload_timeout_seconds: float = Field(default=120.0, gt=0)
    print_upload_retries: int = Field(default=55, ge=0)
    print_upload_retry_delay_seconds: float = Field(default=180.0, ge=0)
    print_upload_lease_seconds: float = Field(default=600.0, gt=0)

    # The print schedule. Daily (the default): at letter_batch_time London time on printer working days (Monday
    # to Friday, not a date in letter_print_holidays), every letter created before that day's letter_print_cutoff
    # and ready is collected. Interval (letter_batch_interval_seconds set, for development and tests): every N
    # seconds, every ready letter is collected.
    letter_print_cutoff: time = time(17, 30)
    letter_batch_time: time = time(17, 50)
    letter_batch_interval_seconds: float | None = Field(default=None, gt=0)
    letter_print_holidays: str = ""  # comma-separated ISO dates on which the printer does not work
    letter_batch_max_letters: int = Field(default=500, ge=1)
    letter_batch_max_bytes: int = Field(default=50 * 1024 * 1024, ge=1)  # of PDF per upload (held in memory)

    letter_pdf_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1)  # a precompiled upload (PUT)
    # "eicar" is the only built-in scanner: it recognises the EICAR test signature and nothing else (it is not an
    # antivirus); a real scanner plugs in behind adapters.scanner.VirusScanner.
    letter_virus_scanner: Literal["eicar"] = "eicar"
    # Worker processes that render templated letters and check precompiled ones, per consumer process (0: in a
    # thread of the consumer process itself, one core at most). Default: one per CPU.
    letter_render_processes: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=0)
    # Precompiled letters read, scanned and checked at once by one consumer process (each holds its PDF).
    letter_render_concurrency: int = Field(default=4, ge=1)

    @property
    def database(self) -> str:
        return self.delivery_letter_database_url or self.database_url("delivery_letter")

    @property
    def print_holidays(self) -> frozenset[date]:
        return frozenset(
            date.fromisoformat(d.strip()) for d in self.letter_print_holidays.split(",") if d.strip()
        )

    @model_validator(mode="after")
    def _check(self) -> Settings:
        self.print_holidays  # noqa: B018 - fail at start-up on a malformed date, not at 17:50
        if self.print_upload_lease_seconds <= self.print_upload_timeout_seconds:
            raise ValueError("PRINT_UPLOAD_LEASE_SECONDS must be longer than PRINT_UPLOAD_TIMEOUT_SECONDS")
        if self.environment == "production":
            if not self.print_provider_url.startswith("https://"):
                raise ValueError("PRINT_PROVIDER_URL must be an https:// URL in production")
            if {self.print_provider_password, self.print_receipt_password} & {
                DEVELOPMENT_PRINT_PASSWORD,
                DEVELOPMENT_RECEIPT_PASSWORD,
                "",
            }:
                raise ValueError("set PRINT_PROVIDER_PASSWORD and PRINT_RECEIPT_PASSWORD in production")
        return self
