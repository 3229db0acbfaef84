"""Settings of jobs (environment variables, validated at start-up)."""

from __future__ import annotations

from notify_platform.settings import CommonSettings
from pydantic import Field


class Settings(CommonSettings):
    port: int = 6013
    jobs_database_url: str | None = None
    notifications_url: str = "http://127.0.0.1:6012"
    internal_http_timeout: float = 10.0

    # Uploads (admin-api.md §8; behaviour.md: up to 100,000 rows).
    job_max_rows: int = Field(100_000, ge=1)
    job_max_file_bytes: int = Field(10 * 1024 * 1024, ge=1)
    job_max_reported_errors: int = Field(1000, ge=1)
    job_upload_chunk_bytes: int = Field(1024 * 1024, ge=4096)
    # Scheduling window for `scheduled_for` (Notify: up to 7 days ahead).
    job_max_schedule_days: int = Field(7, ge=1)

    # Processing: rows announced per confirmed batch, row events carried per message (a bundle), and how many
    # messages the notifications queue may hold before workers pause (bundles and single API sends alike).
    job_batch_size: int = Field(500, ge=1)
    job_bundle_size: int = Field(100, ge=1, le=1000)
    job_max_queue_depth: int = Field(200, ge=1)
    job_lease_seconds: float = Field(30.0, gt=0)
    job_poll_interval_seconds: float = Field(0.5, gt=0)
    # How often finished jobs are checked for every row having become a notification.
    job_created_check_interval_seconds: float = Field(5.0, gt=0)

    @property
    def database(self) -> str:
        return self.jobs_database_url or self.database_url("jobs")
