"""Settings refuse insecure secrets outside development; logs are JSON and drop personal-data fields."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
import structlog
from notify_platform.logging import bind_correlation_id, configure, get_logger
from notify_platform.settings import DEVELOPMENT_ADMIN_SECRET, AdminAuthSettings, CommonSettings
from pydantic import ValidationError


def test_development_may_use_the_documented_default_admin_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_ADMIN_CLIENT_SECRET", raising=False)
    monkeypatch.setenv("ENVIRONMENT", "development")
    assert AdminAuthSettings().notify_admin_client_secret == DEVELOPMENT_ADMIN_SECRET


@pytest.mark.parametrize("environment", ["test", "production"])
@pytest.mark.parametrize("secret", [None, DEVELOPMENT_ADMIN_SECRET, "short"])
def test_other_environments_refuse_to_start_without_a_real_admin_secret(
    monkeypatch: pytest.MonkeyPatch, environment: str, secret: str | None
) -> None:
    monkeypatch.setenv("ENVIRONMENT", environment)
    if secret is None:
        monkeypatch.delenv("NOTIFY_ADMIN_CLIENT_SECRET", raising=False)
    else:
        monkeypatch.setenv("NOTIFY_ADMIN_CLIENT_SECRET", secret)
    with pytest.raises(ValidationError, match="NOTIFY_ADMIN_CLIENT_SECRET"):
        AdminAuthSettings()


def test_a_real_secret_is_accepted_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("NOTIFY_ADMIN_CLIENT_SECRET", "a-long-and-random-secret-value")
    assert AdminAuthSettings().notify_admin_client_secret == "a-long-and-random-secret-value"


def test_database_url_is_built_per_service_from_the_server_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSTGRES_URL", "postgresql://user:pw@db.internal:5433/postgres")
    monkeypatch.setenv("DATABASE_PREFIX", "run1_")
    url = CommonSettings().database_url("jobs")
    assert url == "postgresql+psycopg2://user:pw@db.internal:5433/run1_jobs"


@pytest.fixture
def restore_logging() -> Iterator[None]:
    handlers = logging.getLogger().handlers[:]
    yield
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
    logging.getLogger().handlers[:] = handlers


def test_logs_are_json_with_service_and_correlation_id_and_no_personal_fields(
    capsys: pytest.CaptureFixture[str], restore_logging: None
) -> None:
    configure("unit-test", "INFO")
    bind_correlation_id("corr-123")
    get_logger("t").info(
        "delivery.sms.sent", notification_id="n-1", to="07700900123", personalisation={"a": "b"}
    )
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["event"] == "delivery.sms.sent"
    assert line["service"] == "unit-test"
    assert line["correlation_id"] == "corr-123"
    assert line["notification_id"] == "n-1"
    assert line["to"] == "[redacted]" and line["personalisation"] == "[redacted]"
    assert "07700900123" not in json.dumps(line)


def test_retry_schedules_are_written_compactly_and_default_to_notifys() -> None:
    from notify_platform.settings import DeliveryRetrySettings, parse_retry_delays

    assert parse_retry_delays("1, 5,30") == (1, 5, 30)
    assert parse_retry_delays("1,300x3") == (1, 300, 300, 300)
    default = DeliveryRetrySettings().retry_schedule
    assert len(default) == 48 and default[0] == 1 and set(default[1:]) == {300}
    for bad in ("0", "5x0", "abc", "1,300y2", "-1"):
        with pytest.raises(ValueError):
            parse_retry_delays(bad)
    with pytest.raises(ValueError):
        DeliveryRetrySettings(delivery_retry_delays="soon")
