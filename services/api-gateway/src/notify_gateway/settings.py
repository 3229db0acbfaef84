"""Gateway settings: where the internal services are, admin auth, caches and limits."""

from __future__ import annotations

from notify_platform.settings import AdminAuthSettings, CommonSettings


class Settings(CommonSettings, AdminAuthSettings):
    port: int = 6011
    notifications_url: str = "http://127.0.0.1:6012"
    jobs_url: str = "http://127.0.0.1:6013"
    delivery_sms_url: str = "http://127.0.0.1:6014"
    delivery_letter_url: str = "http://127.0.0.1:6016"
    # How long the gateway trusts a cached service/key/template before asking notifications again. Revocation
    # must take effect within 1 s, so this stays at or below that.
    cache_ttl_seconds: float = 1.0
    # Admin reads of a service and its templates, in Redis; dropped on every change, this is only a backstop.
    admin_cache_ttl_seconds: int = 300
    # A GET right after a 201 is answered from Redis while notifications is still storing the row.
    accepted_window_seconds: int = 120
    rate_limit_enabled: bool = True
    max_json_body_bytes: int = 5 * 1024 * 1024
    internal_timeout_seconds: float = 10.0
    # Spreadsheet uploads are checked row by row before the answer: a big file takes longer than other admin calls.
    admin_upload_timeout_seconds: float = 300.0
    email_domain: str = "notifications.service.gov.uk"
