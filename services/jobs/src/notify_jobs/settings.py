"""Settings of jobs (environment variables, validated at start-up)."""

from __future__ import annotations

from notify_platform.settings import CommonSettings


class Settings(CommonSettings):
    port: int = 6013
    jobs_database_url: str | None = None

    @property
    def database(self) -> str:
        return self.jobs_database_url or self.database_url("jobs")
