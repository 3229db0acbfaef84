"""docker-compose.yml: valid Compose, every role of every service present, and started in a safe order."""

from __future__ import annotations

import json
import re
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
# The roles that run as their own container; `all` (api + consumer in one process) is for single-process runs.
COMBINED_ROLE = "all"
ONE_SHOT_ROLES = {"migrate"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def compose_schema() -> dict[str, Any]:
    # The Compose Specification schema (Apache-2.0, github.com/compose-spec/compose-spec) as vendored, with its
    # licence, by check-jsonschema (PyPI): available offline.
    return json.loads((files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json").read_text())


def _validator(schema: dict[str, Any]):  # type: ignore[no-untyped-def]
    import jsonschema

    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def test_compose_file_validates_against_the_compose_specification(compose, compose_schema) -> None:
    errors = [f"{e.json_path}: {e.message}" for e in _validator(compose_schema).iter_errors(compose)]
    assert errors == []


def test_the_compose_schema_rejects_an_invalid_file(compose, compose_schema) -> None:
    # The validation above means something: the same schema refuses a misspelt dependency condition.
    broken = json.loads(json.dumps(compose))
    broken["services"]["gateway-api"]["depends_on"]["redis"]["condition"] = "service_ready"
    assert list(_validator(compose_schema).iter_errors(broken))


def _runs(service: dict[str, Any]) -> list[str]:
    return list(service.get("entrypoint") or []) + list(service.get("command") or [])


def test_every_role_of_every_service_runs_as_its_own_container(compose, code_services) -> None:
    services = compose["services"]
    for code in code_services:
        if COMBINED_ROLE in code.roles:
            assert {"api", "consumer"} <= set(code.roles), f"{code.module}: `all` is api + consumer"
        for role in set(code.roles) - {COMBINED_ROLE}:
            name = f"{code.name}-{role}"
            assert name in services, f"{code.module} role {role!r} has no compose service {name!r}"
            service = services[name]
            assert service["build"]["dockerfile"] == f"services/{code.directory}/Dockerfile"
            assert service["build"]["context"] == "."
            assert service["command"] == [role], f"{name} must run `python -m {code.module} {role}`"


def test_every_consumed_queue_has_a_consumer_container(compose, code_services) -> None:
    for code in code_services:
        if code.consumed_queues:
            assert f"{code.name}-consumer" in compose["services"], code.consumed_queues


def test_services_listen_on_all_interfaces_with_development_settings(compose, code_services) -> None:
    for code in code_services:
        for role in set(code.roles) - {COMBINED_ROLE}:
            env = compose["services"][f"{code.name}-{role}"]["environment"]
            assert env["HTTP_HOST"] == "0.0.0.0"
            assert env["ENVIRONMENT"] == "development"
            assert env["AMQP_URL"].startswith("amqp://") and "@rabbitmq:" in env["AMQP_URL"]
            assert "@postgres:" in env["POSTGRES_URL"]


def test_every_long_running_container_has_a_healthcheck(compose) -> None:
    for name, service in compose["services"].items():
        if service.get("command") == ["migrate"]:
            assert service["restart"] == "no", f"{name} is a one-shot"
            continue
        test = service.get("healthcheck", {}).get("test")
        assert test and test[0] in ("CMD", "CMD-SHELL"), f"{name} has no healthcheck"


def test_dependencies_wait_for_health_or_completion(compose) -> None:
    services = compose["services"]
    for name, service in services.items():
        depends_on = service.get("depends_on", {})
        assert isinstance(depends_on, dict), f"{name}: depends_on needs conditions, not a bare list"
        for dependency, spec in depends_on.items():
            one_shot = services[dependency].get("command") == ["migrate"]
            expected = "service_completed_successfully" if one_shot else "service_healthy"
            assert spec["condition"] == expected, f"{name} -> {dependency}"


def test_each_role_starts_after_its_own_migration(compose, code_services) -> None:
    for code in code_services:
        if "migrate" not in code.roles:
            continue
        for role in set(code.roles) - {COMBINED_ROLE, "migrate"}:
            depends_on = compose["services"][f"{code.name}-{role}"]["depends_on"]
            assert depends_on[f"{code.name}-migrate"]["condition"] == "service_completed_successfully"


def test_infrastructure_and_simulators(compose) -> None:
    services = compose["services"]
    assert (
        services["rabbitmq"]["image"].startswith("rabbitmq:3")
        and "management" in services["rabbitmq"]["image"]
    )
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")
    for flavour in ("mmg", "firetext"):
        sim = services[f"sms-sim-{flavour}"]
        assert _runs(sim)[:3] == ["python", "-m", "notify_delivery_sms.simulator"]
        assert sim["environment"]["SMS_SIM_FLAVOUR"] == flavour
        assert sim["environment"]["SMS_SIM_HOST"] == "0.0.0.0"
        assert (
            sim["environment"]["SMS_SIM_RECEIPT_URL"]
            == f"http://delivery-sms-api:6014/notifications/sms/{flavour}"
        )
        assert (
            sim["environment"]["SMS_SIM_INBOUND_URL"]
            == f"http://delivery-sms-api:6014/notifications/sms/receive/{flavour}"
        )
        port = sim["environment"]["SMS_SIM_PORT"]
        for role in ("api", "consumer"):
            url = services[f"delivery-sms-{role}"]["environment"][f"{flavour.upper()}_URL"]
            assert url == f"http://sms-sim-{flavour}:{port}"


def test_postgres_creates_a_database_per_owning_service_at_init(compose, code_services) -> None:
    volumes = compose["services"]["postgres"]["volumes"]
    (init,) = [v for v in volumes if v.endswith(":/docker-entrypoint-initdb.d/10-databases.sql:ro")]
    sql = (ROOT / init.split(":")[0]).read_text()
    created = set(re.findall(r"^CREATE DATABASE (\w+);$", sql, flags=re.MULTILINE))
    prefix = compose["x-common-env"]["DATABASE_PREFIX"]
    owning = {f"{prefix}{c.name.replace('-', '_')}" for c in code_services if "migrate" in c.roles}
    assert created == owning


def test_the_processes_that_use_redis_wait_for_it(compose) -> None:
    # The gateway (rate limits, daily limits, caches) and the jobs consumer (a whole job's daily-limit reservation).
    for name in ("gateway-api", "jobs-consumer"):
        assert compose["services"][name]["depends_on"]["redis"] == {"condition": "service_healthy"}, name


def test_only_the_gateway_is_published(compose) -> None:
    published = {name: s["ports"] for name, s in compose["services"].items() if s.get("ports")}
    assert published.pop("gateway-api") == ["6011:6011"]
    # The RabbitMQ management UI, on loopback only, is the one convenience exception.
    assert published == {"rabbitmq": ["127.0.0.1:15672:15672"]}
