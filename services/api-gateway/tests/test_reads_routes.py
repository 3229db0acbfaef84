"""The v2 read routes with a fake internal client: what they ask notifications for, and the JSON they answer."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from notify_gateway.adapters.internal_client import InternalUnavailable
from notify_gateway.auth import ApiKeyRecord
from notify_gateway.entrypoints import errors, v2_notifications, v2_reads
from notify_gateway.entrypoints.deps import Caller, authenticated
from notify_gateway.settings import Settings

SERVICE_ID = uuid.uuid4()
TEMPLATE_ID = str(uuid.uuid4())


@dataclass
class FakeNotifications:
    pages: dict[str, dict[str, Any]] = field(default_factory=dict)
    templates: dict[tuple[str, int | None], dict[str, Any]] = field(default_factory=dict)
    calls: list[tuple[str, Any]] = field(default_factory=list)
    down: bool = False

    async def get_json(
        self, path: str, params: Any = None, *, cache_key: Any = None
    ) -> dict[str, Any] | None:
        if self.down:
            raise InternalUnavailable("down")
        self.calls.append((path, params))
        return self.pages.get(path.rsplit("/", 1)[-1])

    async def template(
        self, service_id: uuid.UUID, template_id: uuid.UUID, version: int | None = None
    ) -> Any:
        self.calls.append(("template", (str(template_id), version)))
        return self.templates.get((str(template_id), version))

    async def notification(self, service_id: uuid.UUID, notification_id: uuid.UUID) -> Any:
        return None


@dataclass
class FakeContext:
    notifications: FakeNotifications
    settings: Settings = field(default_factory=Settings)
    redis: Any = None


def _notification(i: int) -> dict[str, Any]:
    return {
        "id": str(uuid.UUID(int=i)),
        "service_id": str(SERVICE_ID),
        "template_id": TEMPLATE_ID,
        "template_version": 1,
        "notification_type": "letter",
        "recipient": "A Person",
        "personalisation": {
            "address_line_1": "A Person",
            "address_line_2": "1 Street",
            "postcode": "SW1A 1AA",
        },
        "client_reference": None,
        "status": "sending",
        "body": "Dear A",
        "subject": "Hello",
        "postage": "second",
        "created_at": "2026-01-01T10:00:00.000000Z",
    }


def _template(**overrides: Any) -> dict[str, Any]:
    return {
        "id": TEMPLATE_ID,
        "name": "T",
        "template_type": "sms",
        "content": "Hi ((name))",
        "subject": None,
        "postage": None,
        "archived": False,
        "hidden": False,
        "letter_contact_block": None,
        "version": 2,
        "created_at": "2026-01-01T10:00:00.000000Z",
        "updated_at": "2026-01-02T10:00:00.000000Z",
        "created_by": "maker@example.gov.uk",
        **overrides,
    }


@pytest.fixture
def fake() -> FakeNotifications:
    return FakeNotifications()


@pytest.fixture
def client(fake: FakeNotifications) -> TestClient:
    app = FastAPI()
    app.include_router(v2_reads.router)
    app.include_router(v2_notifications.router)
    errors.install(app)
    app.state.context = FakeContext(fake)
    key = ApiKeyRecord(id=uuid.uuid4(), secret="s", key_type="team", expiry_date=None)
    app.dependency_overrides[authenticated] = lambda: Caller(service={"id": str(SERVICE_ID)}, key=key)
    return TestClient(app, base_url="http://api.test")


def test_list_asks_for_the_callers_key_type_with_expanded_filters(
    client: TestClient, fake: FakeNotifications
) -> None:
    older = str(uuid.uuid4())
    fake.pages["notifications"] = {"notifications": [_notification(1), _notification(2)]}
    r = client.get(
        f"/v2/notifications?status=accepted&template_type=letter&reference=r1&older_than={older}"
        "&status=failed&include_jobs=True&reference=ignored"
    )
    assert r.status_code == 200
    path, params = fake.calls[0]
    assert path == f"/internal/services/{SERVICE_ID}/notifications"
    assert params == [
        ("key_type", "team"),
        ("limit", "250"),
        ("template_type", "letter"),
        ("status", "created"),
        ("status", "sending"),
        *[("status", s) for s in ("technical-failure", "temporary-failure", "permanent-failure")],
        *[("status", s) for s in ("validation-failed", "virus-scan-failed", "returned-letter")],
        ("reference", "r1"),
        ("older_than", older),
        ("include_jobs", "true"),
    ]
    body = r.json()
    assert list(body) == ["notifications", "links"]
    assert [n["status"] for n in body["notifications"]] == ["accepted", "accepted"]
    assert body["notifications"][0]["line_2"] == "1 Street"
    last = str(uuid.UUID(int=2))
    query = "status=accepted&status=failed&template_type=letter&reference=r1"
    assert body["links"] == {
        "current": f"http://api.test/v2/notifications?{query}&older_than={older}&include_jobs=True",
        "next": f"http://api.test/v2/notifications?{query}&older_than={last}&include_jobs=True",
    }


def test_empty_page_has_no_next(client: TestClient, fake: FakeNotifications) -> None:
    fake.pages["notifications"] = {"notifications": []}
    r = client.get("/v2/notifications")
    assert r.json() == {"notifications": [], "links": {"current": "http://api.test/v2/notifications"}}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "status=bad",
            "status bad is not one of [cancelled, created, sending, sent, delivered, pending, failed, "
            "technical-failure, temporary-failure, permanent-failure, pending-virus-check, validation-failed, "
            "virus-scan-failed, returned-letter, accepted, received]",
        ),
        ("template_type=Apple", "template_type Apple is not one of [sms, email, letter]"),
        ("older_than=nope", "older_than is not a valid UUID"),
        ("include_jobs=false", "include_jobs false is not one of [true, True]"),
        ("foo=1", "Additional properties are not allowed (foo was unexpected)"),
    ],
)
def test_list_validation_errors(
    client: TestClient, fake: FakeNotifications, query: str, message: str
) -> None:
    r = client.get(f"/v2/notifications?{query}")
    assert r.status_code == 400
    assert r.json() == {"status_code": 400, "errors": [{"error": "ValidationError", "message": message}]}
    assert fake.calls == []


def test_list_by_a_reference_holding_a_nul_is_empty_without_asking_notifications(
    client: TestClient, fake: FakeNotifications
) -> None:
    """Found by the fuzz test: the database refuses a NUL in a query, and the gateway answered that with 503."""
    r = client.get("/v2/notifications?reference=a%00b")
    assert r.status_code == 200
    assert r.json()["notifications"] == []
    assert fake.calls == []


def test_list_answers_503_when_notifications_is_down(client: TestClient, fake: FakeNotifications) -> None:
    fake.down = True
    r = client.get("/v2/notifications")
    assert r.status_code == 503
    assert r.json()["errors"][0]["error"] == "ServiceUnavailableError"


def test_template_version_zero_is_latest_and_non_integer_is_the_app_404(
    client: TestClient, fake: FakeNotifications
) -> None:
    fake.templates[(TEMPLATE_ID, None)] = _template()
    assert client.get(f"/v2/template/{TEMPLATE_ID}/version/0").json()["version"] == 2
    assert fake.calls[-1] == ("template", (TEMPLATE_ID, None))
    r = client.get(f"/v2/template/{TEMPLATE_ID}/version/abc")
    assert r.status_code == 404
    assert set(r.json()) == {"result", "message"}
    assert r.json()["message"].startswith("The requested URL was not found on the server.")


def test_template_errors(client: TestClient, fake: FakeNotifications) -> None:
    r = client.get("/v2/template/not-a-uuid")
    assert r.json() == {
        "status_code": 400,
        "errors": [{"error": "ValidationError", "message": "id is not a valid UUID"}],
    }
    r = client.get(f"/v2/template/{TEMPLATE_ID}/version/3")
    assert r.status_code == 404
    assert r.json() == {
        "status_code": 404,
        "errors": [{"error": "NoResultFound", "message": "No result found"}],
    }
    fake.templates[(TEMPLATE_ID, None)] = _template(hidden=True)
    assert client.get(f"/v2/template/{TEMPLATE_ID}").status_code == 404


def test_archived_template_is_still_returned(client: TestClient, fake: FakeNotifications) -> None:
    fake.templates[(TEMPLATE_ID, 1)] = _template(archived=True, version=1)
    r = client.get(f"/v2/template/{TEMPLATE_ID}/version/1")
    assert r.status_code == 200
    assert r.json()["version"] == 1
    assert r.json()["personalisation"] == {"name": {"required": True}}


def test_templates_list_type_filter_and_errors(client: TestClient, fake: FakeNotifications) -> None:
    fake.pages["templates"] = {"templates": [_template()]}
    r = client.get("/v2/templates?type=sms")
    assert [t["id"] for t in r.json()["templates"]] == [TEMPLATE_ID]
    assert fake.calls[-1] == (f"/internal/services/{SERVICE_ID}/templates", {"type": "sms"})
    r = client.get("/v2/templates?type=fax")
    assert r.json()["errors"] == [
        {"error": "ValidationError", "message": "type fax is not one of [sms, email, letter]"}
    ]
    r = client.get("/v2/templates?colour=red")
    assert r.json()["errors"][0]["message"] == "Additional properties are not allowed (colour was unexpected)"


@pytest.mark.parametrize(
    ("raw", "status", "message"),
    [
        (b'{"personalisation": null}', 400, "personalisation None is not of type object"),
        (b'{"personalisation": ["a"]}', 400, "personalisation [a] is not of type object"),
        (b"{not json", 400, "Invalid JSON supplied in POST data"),
        (b'{"personalisation": {}}', 400, "Missing personalisation: name"),
    ],
)
def test_preview_errors(
    client: TestClient, fake: FakeNotifications, raw: bytes, status: int, message: str
) -> None:
    fake.templates[(TEMPLATE_ID, None)] = _template()
    r = client.post(f"/v2/template/{TEMPLATE_ID}/preview", content=raw)
    assert r.status_code == status
    assert r.json()["errors"][0]["message"] == message


def test_preview_body_over_the_limit_is_413_worded_as_the_sends(
    client: TestClient, fake: FakeNotifications
) -> None:
    fake.templates[(TEMPLATE_ID, None)] = _template(content="No placeholders")
    client.app.state.context.settings = Settings(max_json_body_bytes=100)
    body = b'{"personalisation": {"pad": "' + b"x" * 68 + b'"}}'
    assert len(body) == 100
    assert client.post(f"/v2/template/{TEMPLATE_ID}/preview", content=body).status_code == 200
    r = client.post(f"/v2/template/{TEMPLATE_ID}/preview", content=body.replace(b"x", b"xx", 1))
    assert (r.status_code, r.json()) == (
        413,
        {
            "status_code": 413,
            "errors": [
                {"error": "BadRequestError", "message": "Request body is too large: the limit is 100 bytes"}
            ],
        },
    )


def test_preview_accepts_an_empty_body_and_unknown_template_is_404(
    client: TestClient, fake: FakeNotifications
) -> None:
    fake.templates[(TEMPLATE_ID, None)] = _template(content="No placeholders")
    r = client.post(f"/v2/template/{TEMPLATE_ID}/preview", content=b"")
    assert r.status_code == 200
    assert r.json() == {
        "id": TEMPLATE_ID,
        "type": "sms",
        "version": 2,
        "body": "No placeholders",
        "html": None,
        "subject": None,
        "postage": None,
    }
    r = client.post(f"/v2/template/{uuid.uuid4()}/preview", json={"personalisation": {}})
    assert r.status_code == 404
    r = client.post("/v2/template/nope/preview", json={"personalisation": {}})
    assert r.json()["errors"][0]["message"] == "id is not a valid UUID"


def test_received_texts_page_and_links(client: TestClient, fake: FakeNotifications) -> None:
    item = {
        "id": str(uuid.uuid4()),
        "service_id": str(SERVICE_ID),
        "notify_number": "07700900456",
        "user_number": "447700900123",
        "content": "hi",
        "created_at": "2026-01-01T10:00:00.000000Z",
        "provider_reference": "never shown",
    }
    fake.pages["inbound-sms"] = {"received_text_messages": [item]}
    older = str(uuid.uuid4())
    r = client.get(f"/v2/received-text-messages?older_than={older}")
    assert fake.calls[-1] == (
        f"/internal/services/{SERVICE_ID}/inbound-sms",
        {"limit": "250", "older_than": older},
    )
    body = r.json()
    assert body["received_text_messages"] == [{k: v for k, v in item.items() if k != "provider_reference"}]
    assert body["links"] == {
        "current": "http://api.test/v2/received-text-messages",
        "next": f"http://api.test/v2/received-text-messages?older_than={item['id']}",
    }
    r = client.get("/v2/received-text-messages?older_than=x")
    assert r.json()["errors"] == [{"error": "ValidationError", "message": "older_than is not a valid UUID"}]
    r = client.get("/v2/received-text-messages?page=2")
    assert r.json()["errors"][0]["message"] == "Additional properties are not allowed (page was unexpected)"


def test_single_notification_route_still_matches_after_the_list(client: TestClient) -> None:
    r = client.get(f"/v2/notifications/{uuid.uuid4()}")
    assert r.status_code == 404
    r = client.get("/v2/notifications/bad")
    assert r.json()["errors"][0]["message"] == "notification_id is not a valid UUID"
