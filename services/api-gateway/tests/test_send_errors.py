"""Every documented error of POST /v2/notifications/{sms,email,letter} (public-api.md §10 and the general ones),
produced through the FastAPI routes with fakes: status code, ``error`` and the exact ``message``.

The app is assembled as in ``test_reads_routes``: the v2 routers, the error handlers, a fake context, and the
caller injected by overriding ``authenticated`` (a few auth errors go through the real dependency instead).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from notifications_python_client.authentication import create_jwt_token
from notify_gateway.adapters.internal_client import InternalUnavailable
from notify_gateway.adapters.letters_client import PdfTooLarge
from notify_gateway.auth import ApiKeyRecord
from notify_gateway.entrypoints import errors, v2_notifications, v2_reads
from notify_gateway.entrypoints.deps import Caller, authenticated
from notify_gateway.settings import Settings
from notify_platform.broker import BrokerUnavailable
from notify_platform.daily_limits import DailyLimitExceeded, Reservation

SERVICE_ID = str(uuid.uuid4())
SMS_TEMPLATE = str(uuid.uuid4())
EMAIL_TEMPLATE = str(uuid.uuid4())
PRECOMPILED_TEMPLATE = "5a7fa0a4-6f4c-4b5e-9f0e-0d3c1f7e9a11"
LETTER_TEMPLATE = str(uuid.uuid4())
SENDER_ID = str(uuid.uuid4())
REPLY_TO_ID = str(uuid.uuid4())
UNKNOWN = "0d0b1c4e-6d6c-4f3a-9c55-8f3c8c4bd7a1"

TEAM_ONLY = "Can’t send to this recipient using a team-only API key"
TRIAL = (
    "Can’t send to this recipient when service is in trial mode – see "
    "https://www.notifications.service.gov.uk/trial-mode"
)
BAD_START = "Address lines must not start with any of the following characters: @ ( ) = [ ] ” \\ / , < >"
SCHEDULED_FORMAT = (
    "scheduled_for datetime format is invalid. It must be a valid ISO8601 date time format, "
    "https://en.wikipedia.org/wiki/ISO_8601"
)


def make_service(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": SERVICE_ID,
        "name": "Parking",
        "active": True,
        "restricted": False,
        "rate_limit": 3000,
        "permissions": ["sms", "email", "letter", "international_sms", "international_letters"],
        "prefix_sms": False,
        "email_sender_local_part": "parking",
        "sms_senders": [{"id": SENDER_ID, "sms_sender": "GOVUK", "is_default": True, "archived": False}],
        "email_reply_to": [
            {
                "id": REPLY_TO_ID,
                "email_address": "reply@example.gov.uk",
                "is_default": True,
                "archived": False,
            }
        ],
        "team_members": [{"email_address": "team@example.gov.uk", "mobile_number": "07700900111"}],
        "guest_list": [],
        "limits": {"sms": 250000, "email": 250000, "letter": 20000, "international_sms": 100},
        "api_keys": [],
    }
    return {**base, **overrides}


def make_template(kind: str, template_id: str, **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": template_id,
        "template_type": kind,
        "content": "Hi ((name))",
        "subject": None if kind == "sms" else "About ((name))",
        "version": 1,
        "archived": False,
        "hidden": False,
        "postage": "second" if kind == "letter" else None,
        "letter_contact_block": None,
    }
    return {**base, **overrides}


@dataclass
class FakeNotifications:
    templates: dict[str, dict[str, Any]] = field(default_factory=dict)
    services: dict[str, dict[str, Any]] = field(default_factory=dict)
    template_error: Exception | None = None
    stored: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)

    async def template(
        self, service_id: uuid.UUID, template_id: uuid.UUID, version: int | None = None
    ) -> Any:
        if self.template_error is not None:
            raise self.template_error
        return self.templates.get(str(template_id))

    async def service(self, service_id: uuid.UUID, *, fresh: bool = False) -> Any:
        return self.services.get(str(service_id))

    async def notification(self, service_id: uuid.UUID, notification_id: uuid.UUID) -> Any:
        return self.stored.get(notification_id)

    async def precompiled_template(self, service_id: uuid.UUID) -> Any:
        return {**make_template("letter", PRECOMPILED_TEMPLATE), "hidden": True, "version": 1}


@dataclass
class FakeLimiter:
    allowed: bool = True
    calls: list[tuple[uuid.UUID, str, int]] = field(default_factory=list)

    async def admit(
        self, service_id: uuid.UUID, key_type: str, limit: int, *, read_counter: str | None = None
    ) -> tuple[bool, int | None]:
        self.calls.append((service_id, key_type, limit))
        return self.allowed, None  # the count is judged by FakeDailyLimits.check_count


@dataclass
class FakeDailyLimits:
    full: set[str] = field(default_factory=set)  # kinds whose counter is at its limit
    reserved: list[str] = field(default_factory=list)

    async def check(self, service_id: uuid.UUID, channel: str, limit: int) -> None:
        if channel in self.full:
            raise DailyLimitExceeded(channel, limit)

    def counter_key(self, service_id: uuid.UUID, channel: str) -> str:
        return channel

    def check_count(self, kind: str, limit: int, count: int | None) -> None:
        if kind in self.full:
            raise DailyLimitExceeded(kind, limit)

    async def check_international(self, service_id: uuid.UUID, limit: int) -> None:
        if "international_sms" in self.full:
            raise DailyLimitExceeded("international_sms", limit)

    async def reserve(
        self,
        service_id: uuid.UUID,
        channel: str,
        limit: int,
        *,
        international_limit: int | None = None,
        store: Any = None,
    ) -> Reservation:
        self.reserved.append(channel)
        return Reservation(service_id, None, (channel,), (), counted=False)  # type: ignore[arg-type]

    async def release(self, token: Reservation) -> None:
        self.reserved.remove(token.kinds[0])


@dataclass
class FakeBroker:
    down: bool = False
    published: list[Any] = field(default_factory=list)

    async def publish(self, envelope: Any) -> None:
        if self.down:
            raise BrokerUnavailable("not confirmed")
        self.published.append(envelope)


class FakeRedis:
    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    async def set(self, key: str, value: bytes, ex: int | None = None) -> None:
        self.data[key] = value

    async def get(self, key: str) -> bytes | None:
        return self.data.get(key)


@dataclass
class FakeLetters:
    """delivery-letter's PDF store, as the gateway sees it."""

    pdfs: dict[uuid.UUID, bytes] = field(default_factory=dict)
    error: Exception | None = None
    order: list[str] = field(default_factory=list)

    async def upload_pdf(self, service_id: uuid.UUID, notification_id: uuid.UUID, pdf: bytes) -> None:
        if self.error is not None:
            raise self.error
        self.order.append("upload")
        self.pdfs[notification_id] = pdf

    async def pdf(self, service_id: uuid.UUID, notification_id: uuid.UUID) -> bytes | None:
        if self.error is not None:
            raise self.error
        return self.pdfs.get(notification_id)


@dataclass
class FakeContext:
    notifications: FakeNotifications
    settings: Settings = field(default_factory=Settings)
    broker: FakeBroker = field(default_factory=FakeBroker)
    redis: FakeRedis = field(default_factory=FakeRedis)
    limiter: FakeLimiter = field(default_factory=FakeLimiter)
    daily_limits: FakeDailyLimits = field(default_factory=FakeDailyLimits)
    document_store: Any = None
    letters: FakeLetters = field(default_factory=FakeLetters)


class Gateway:
    """The v2 app with fakes; ``service`` and ``key_type`` decide who the caller is."""

    def __init__(self) -> None:
        self.service = make_service()
        self.key_type = "normal"
        self.ctx = FakeContext(
            FakeNotifications(
                templates={
                    SMS_TEMPLATE: make_template("sms", SMS_TEMPLATE),
                    EMAIL_TEMPLATE: make_template("email", EMAIL_TEMPLATE),
                    LETTER_TEMPLATE: make_template("letter", LETTER_TEMPLATE),
                }
            )
        )
        self.app = FastAPI()
        self.app.include_router(v2_reads.router)
        self.app.include_router(v2_notifications.router)
        errors.install(self.app)
        self.app.state.context = self.ctx
        self.app.dependency_overrides[authenticated] = self._caller
        self.client = TestClient(self.app, base_url="http://api.test", raise_server_exceptions=False)

    def _caller(self) -> Caller:
        key = ApiKeyRecord(id=uuid.uuid4(), secret="s", key_type=self.key_type, expiry_date=None)
        return Caller(service=self.service, key=key)

    def template(self, template_id: str, **overrides: Any) -> None:
        self.ctx.notifications.templates[template_id].update(overrides)

    def post(self, channel: str, body: Any = None, *, raw: bytes | None = None) -> Any:
        content = raw if raw is not None else orjson.dumps(body)
        return self.client.post(
            f"/v2/notifications/{channel}", content=content, headers={"Content-Type": "application/json"}
        )


@pytest.fixture
def gw() -> Gateway:
    return Gateway()


def assert_error(response: Any, status: int, error: str, message: str) -> None:
    assert (response.status_code, response.json()) == (
        status,
        {"status_code": status, "errors": [{"error": error, "message": message}]},
    )


def sms(**fields: Any) -> dict[str, Any]:
    return {
        "phone_number": "07700900123",
        "template_id": SMS_TEMPLATE,
        "personalisation": {"name": "Ada"},
        **fields,
    }


def email(**fields: Any) -> dict[str, Any]:
    return {
        "email_address": "someone@example.gov.uk",
        "template_id": EMAIL_TEMPLATE,
        "personalisation": {"name": "Ada"},
        **fields,
    }


ADDRESS = {"address_line_1": "A Person", "address_line_2": "1 Street", "postcode": "SW1A 1AA"}


def letter(address: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    personalisation = {**(ADDRESS if address is None else address), "name": "Ada"}
    return {"template_id": LETTER_TEMPLATE, "personalisation": personalisation, **fields}


# --------------------------------------------------------------------------------------------------
# general: JSON, body size, rate limit, daily limits, team and trial restrictions, 500, 503


@pytest.mark.parametrize("channel", ["sms", "email", "letter"])
@pytest.mark.parametrize("raw", [b"{not json", b"", b'{"a": 1'], ids=["garbage", "empty", "truncated"])
def test_invalid_json(gw: Gateway, channel: str, raw: bytes) -> None:
    assert_error(gw.post(channel, raw=raw), 400, "BadRequestError", "Invalid JSON supplied in POST data")


@pytest.mark.parametrize("channel", ["sms", "email", "letter"])
def test_body_over_the_limit_is_413(gw: Gateway, channel: str) -> None:
    gw.ctx.settings = Settings(max_json_body_bytes=100)
    r = gw.post(channel, sms(reference="x" * 100))
    assert_error(r, 413, "BadRequestError", "Request body is too large: the limit is 100 bytes")


@pytest.mark.parametrize(("key_type", "label"), [("normal", "LIVE"), ("team", "TEAM"), ("test", "TEST")])
@pytest.mark.parametrize("channel", ["sms", "email", "letter"])
def test_rate_limit(gw: Gateway, channel: str, key_type: str, label: str) -> None:
    gw.key_type = key_type
    gw.ctx.limiter.allowed = False
    r = gw.post(channel, raw=b"{not json")  # checked before the body is read
    message = f"Exceeded rate limit for key type {label} of 3000 requests per 60 seconds"
    assert_error(r, 429, "RateLimitError", message)
    assert gw.ctx.limiter.calls == [(uuid.UUID(SERVICE_ID), key_type, 3000)]


def test_rate_limit_uses_the_services_own_limit(gw: Gateway) -> None:
    gw.service = make_service(rate_limit=10)
    gw.ctx.limiter.allowed = False
    r = gw.post("sms", sms())
    assert_error(
        r, 429, "RateLimitError", "Exceeded rate limit for key type LIVE of 10 requests per 60 seconds"
    )


def test_rate_limit_can_be_switched_off(gw: Gateway) -> None:
    gw.ctx.settings = Settings(rate_limit_enabled=False)
    gw.ctx.limiter.allowed = False
    assert gw.post("sms", sms()).status_code == 201


@pytest.mark.parametrize(
    ("channel", "body", "limit"),
    [("sms", sms(), 250000), ("email", email(), 250000), ("letter", letter(), 20000)],
)
def test_daily_limit(gw: Gateway, channel: str, body: dict[str, Any], limit: int) -> None:
    gw.ctx.daily_limits.full.add(channel)
    r = gw.post(channel, raw=b"{not json")  # also checked before the body is read
    assert_error(r, 429, "TooManyRequestsError", f"Exceeded send limits ({channel}: {limit}) for today")
    assert_error(
        gw.post(channel, body),
        429,
        "TooManyRequestsError",
        f"Exceeded send limits ({channel}: {limit}) for today",
    )


def test_daily_limit_is_not_checked_for_test_keys(gw: Gateway) -> None:
    gw.key_type = "test"
    gw.ctx.daily_limits.full.update({"sms", "international_sms"})
    assert gw.post("sms", sms(phone_number="+33 6 12 34 56 78")).status_code == 201


def test_international_daily_limit(gw: Gateway) -> None:
    gw.ctx.daily_limits.full.add("international_sms")
    assert gw.post("sms", sms()).status_code == 201  # a UK number does not count against it
    r = gw.post("sms", sms(phone_number="+33 6 12 34 56 78"))
    assert_error(r, 429, "TooManyRequestsError", "Exceeded send limits (international_sms: 100) for today")


@pytest.mark.parametrize(
    ("channel", "body"),
    [("sms", sms(phone_number="07700900999")), ("email", email(email_address="stranger@example.gov.uk"))],
)
def test_team_key_and_trial_mode_recipients(gw: Gateway, channel: str, body: dict[str, Any]) -> None:
    gw.key_type = "team"
    assert_error(gw.post(channel, body), 400, "BadRequestError", TEAM_ONLY)
    gw.key_type = "normal"
    gw.service = make_service(restricted=True)
    assert_error(gw.post(channel, body), 400, "BadRequestError", TRIAL)
    gw.key_type = "test"  # test keys may send to anyone, even in trial mode
    assert gw.post(channel, body).status_code == 201


@pytest.mark.parametrize("channel", ["sms", "email", "letter"])
def test_unexpected_error_is_500_with_the_class_name(gw: Gateway, channel: str) -> None:
    gw.ctx.notifications.template_error = RuntimeError("boom")
    body = {"sms": sms(), "email": email(), "letter": letter()}[channel]
    assert_error(gw.post(channel, body), 500, "RuntimeError", "Internal server error")


@pytest.mark.parametrize("down", ["notifications", "broker"])
def test_unavailable_is_503(gw: Gateway, down: str) -> None:
    if down == "broker":
        gw.ctx.broker.down = True
    else:
        gw.ctx.notifications.template_error = InternalUnavailable("down")
    r = gw.post("sms", sms())
    message = "The service is temporarily unavailable, please try again later"
    assert_error(r, 503, "ServiceUnavailableError", message)
    assert gw.ctx.daily_limits.reserved == []  # a reservation is given back when the publish fails


# --------------------------------------------------------------------------------------------------
# auth through the real dependency (every rule is in test_auth; these show the route answers with them)

AUTH_SECRET = "3d844edf-8d35-48ac-975b-e847b4f122b0"
LONG_TOKEN_MESSAGE = (
    "Invalid token: make sure your API token matches the example at "
    "https://docs.notifications.service.gov.uk/rest-api.html#authorisation-header"
)


def _service_with_key(revoked: bool = False, active: bool = True) -> dict[str, Any]:
    key = {
        "id": str(uuid.uuid4()),
        "secret": AUTH_SECRET,
        "key_type": "normal",
        "expiry_date": (datetime.now(UTC) - timedelta(days=1)).isoformat() if revoked else None,
    }
    return make_service(api_keys=[key], active=active)


@pytest.mark.parametrize(
    ("header", "setup", "status", "message"),
    [
        (None, "ok", 401, "Unauthorized: authentication token must be provided"),
        ("Basic abc", "ok", 401, "Unauthorized: authentication bearer scheme must be used"),
        ("Bearer not-a-jwt", "ok", 403, LONG_TOKEN_MESSAGE),
        ("token", "missing", 403, "Invalid token: service not found"),
        ("token", "archived", 403, "Invalid token: service is archived"),
        ("other-secret", "ok", 403, "Invalid token: API key not found"),
    ],
)
def test_auth_errors_on_send(gw: Gateway, header: str | None, setup: str, status: int, message: str) -> None:
    del gw.app.dependency_overrides[authenticated]
    if setup != "missing":
        gw.ctx.notifications.services[SERVICE_ID] = _service_with_key(active=setup != "archived")
    headers = {"Content-Type": "application/json"}
    if header == "token":
        headers["Authorization"] = "Bearer " + create_jwt_token(AUTH_SECRET, SERVICE_ID)
    elif header == "other-secret":
        headers["Authorization"] = "Bearer " + create_jwt_token(str(uuid.uuid4()), SERVICE_ID)
    elif header is not None:
        headers["Authorization"] = header
    r = gw.client.post("/v2/notifications/sms", content=orjson.dumps(sms()), headers=headers)
    assert_error(r, status, "AuthError", message)


def test_revoked_key(gw: Gateway) -> None:
    del gw.app.dependency_overrides[authenticated]
    gw.ctx.notifications.services[SERVICE_ID] = _service_with_key(revoked=True)
    headers = {"Authorization": "Bearer " + create_jwt_token(AUTH_SECRET, SERVICE_ID)}
    r = gw.client.post("/v2/notifications/sms", content=orjson.dumps(sms()), headers=headers)
    assert_error(r, 403, "AuthError", "Invalid token: API key revoked")


# --------------------------------------------------------------------------------------------------
# POST sms

SMS_CASES = [
    # recipient (ValidationError, prefixed with the field)
    (sms(phone_number="0770090012345"), 400, "ValidationError", "phone_number Too many digits"),
    (sms(phone_number="0770090012"), 400, "ValidationError", "phone_number Not enough digits"),
    (
        sms(phone_number="07700 900 12a"),
        400,
        "ValidationError",
        "phone_number Must not contain letters or symbols",
    ),
    (
        sms(phone_number="+9991234567"),
        400,
        "ValidationError",
        "phone_number Number is not valid – double check the phone number you entered",
    ),
    # service permissions (InvalidPhoneError has no field prefix)
    (sms(phone_number="020 7946 0000"), 400, "InvalidPhoneError", "Not a UK mobile number"),
    # sender
    (
        sms(sms_sender_id=UNKNOWN),
        400,
        "BadRequestError",
        f"sms_sender_id {UNKNOWN} does not exist in database for service id {SERVICE_ID}",
    ),
    # template
    (sms(template_id=UNKNOWN), 400, "BadRequestError", "Template not found"),
    (
        sms(template_id=EMAIL_TEMPLATE),
        400,
        "BadRequestError",
        "email template is not suitable for sms notification",
    ),
    (
        sms(template_id=LETTER_TEMPLATE),
        400,
        "BadRequestError",
        "letter template is not suitable for sms notification",
    ),
    (sms(personalisation={}), 400, "BadRequestError", "Missing personalisation: name"),
    (
        sms(personalisation={"name": "a" * 919}),
        400,
        "BadRequestError",
        "Your message is too long. Text messages cannot be longer than 918 characters. "
        "Your message is 922 characters long.",
    ),
    # schema (public-api.md §4.1)
    ({"template_id": SMS_TEMPLATE}, 400, "ValidationError", "phone_number is a required property"),
    ({"phone_number": "07700900123"}, 400, "ValidationError", "template_id is a required property"),
    (sms(template_id="nope"), 400, "ValidationError", "template_id is not a valid UUID"),
    (sms(sms_sender_id=None), 400, "ValidationError", "sms_sender_id is not a valid UUID"),
    (sms(phone_number=7700900123), 400, "ValidationError", "phone_number 7700900123 is not of type string"),
    (sms(personalisation="x"), 400, "ValidationError", "personalisation x is not of type object"),
    (sms(reference="r" * 1001), 400, "ValidationError", f"reference {'r' * 1001} is too long"),
    (sms(foo=1), 400, "ValidationError", "Additional properties are not allowed (foo was unexpected)"),
    (
        sms(foo=1, bar=2),
        400,
        "ValidationError",
        "Additional properties are not allowed (bar, foo were unexpected)",
    ),
    (
        sms(scheduled_for="2000-01-01T10:00:00"),
        400,
        "ValidationError",
        "scheduled_for datetime can not be in the past",
    ),
    (
        sms(scheduled_for="2999-01-01T10:00:00"),
        400,
        "ValidationError",
        "scheduled_for datetime can only be 24 hours in the future",
    ),
    (sms(scheduled_for="soon"), 400, "ValidationError", SCHEDULED_FORMAT),
]


@pytest.mark.parametrize(("body", "status", "error", "message"), SMS_CASES)
def test_sms_errors(gw: Gateway, body: dict[str, Any], status: int, error: str, message: str) -> None:
    assert_error(gw.post("sms", body), status, error, message)


def test_sms_message_without_a_template_line(gw: Gateway) -> None:
    """Hi + 916 characters = 918: the longest text accepted; one more is refused."""
    assert gw.post("sms", sms(personalisation={"name": "a" * 915})).status_code == 201
    r = gw.post("sms", sms(personalisation={"name": "a" * 916}))
    message = (
        "Your message is too long. Text messages cannot be longer than 918 characters. "
        "Your message is 919 characters long."
    )
    assert_error(r, 400, "BadRequestError", message)


def test_sms_empty_message(gw: Gateway) -> None:
    gw.template(SMS_TEMPLATE, content="((name))")
    assert_error(
        gw.post("sms", sms(personalisation={"name": " "})), 400, "BadRequestError", "Your message is empty."
    )


def test_sms_template_state_errors(gw: Gateway) -> None:
    gw.template(SMS_TEMPLATE, archived=True)
    assert_error(gw.post("sms", sms()), 400, "BadRequestError", "Template has been deleted")
    gw.template(SMS_TEMPLATE, archived=False, hidden=True)
    assert_error(gw.post("sms", sms()), 400, "BadRequestError", "Template not found")


def test_sms_missing_personalisation_lists_every_name(gw: Gateway) -> None:
    gw.template(SMS_TEMPLATE, content="((a)) ((b)) ((c))")
    r = gw.post("sms", sms(personalisation={"b": "x"}))
    assert_error(r, 400, "BadRequestError", "Missing personalisation: a, c")


def test_sms_permissions(gw: Gateway) -> None:
    gw.service = make_service(permissions=["email", "letter"])
    assert_error(
        gw.post("sms", sms()), 400, "BadRequestError", "Service is not allowed to send text messages"
    )
    gw.service = make_service(permissions=["sms"])
    r = gw.post("sms", sms(phone_number="+33 6 12 34 56 78"))
    assert_error(r, 400, "BadRequestError", "Cannot send to international mobile numbers")


def test_sms_archived_sender_does_not_exist(gw: Gateway) -> None:
    gw.service = make_service(
        sms_senders=[{"id": SENDER_ID, "sms_sender": "GOVUK", "is_default": True, "archived": True}]
    )
    r = gw.post("sms", sms(sms_sender_id=SENDER_ID))
    message = f"sms_sender_id {SENDER_ID} does not exist in database for service id {SERVICE_ID}"
    assert_error(r, 400, "BadRequestError", message)


def test_sms_several_schema_errors_in_one_answer(gw: Gateway) -> None:
    r = gw.post("sms", {"template_id": "nope", "foo": 1})
    assert r.status_code == 400
    assert r.json()["errors"] == [
        {"error": "ValidationError", "message": "template_id is not a valid UUID"},
        {"error": "ValidationError", "message": "phone_number is a required property"},
        {"error": "ValidationError", "message": "Additional properties are not allowed (foo was unexpected)"},
    ]


# --------------------------------------------------------------------------------------------------
# POST email

EMAIL_CASES = [
    (email(email_address="not-an-email"), 400, "ValidationError", "email_address Not a valid email address"),
    (
        email(one_click_unsubscribe_url="http://example.gov.uk/u"),
        400,
        "ValidationError",
        "one_click_unsubscribe_url is not a valid https url",
    ),
    (
        email(one_click_unsubscribe_url=None),
        400,
        "ValidationError",
        "one_click_unsubscribe_url is not a valid https url",
    ),
    (
        email(email_reply_to_id=UNKNOWN),
        400,
        "BadRequestError",
        f"email_reply_to_id {UNKNOWN} does not exist in database for service id {SERVICE_ID}",
    ),
    (email(email_reply_to_id="nope"), 400, "ValidationError", "email_reply_to_id is not a valid UUID"),
    (email(template_id=UNKNOWN), 400, "BadRequestError", "Template not found"),
    (
        email(template_id=SMS_TEMPLATE),
        400,
        "BadRequestError",
        "sms template is not suitable for email notification",
    ),
    (
        email(template_id=LETTER_TEMPLATE),
        400,
        "BadRequestError",
        "letter template is not suitable for email notification",
    ),
    (email(personalisation={}), 400, "BadRequestError", "Missing personalisation: name"),
    (
        email(sanitise_content_for="name"),
        400,
        "ValidationError",
        "sanitise_content_for name is not of type array, null",
    ),
    ({"template_id": EMAIL_TEMPLATE}, 400, "ValidationError", "email_address is a required property"),
    (email(email_address=["a@b.c"]), 400, "ValidationError", "email_address [a@b.c] is not of type string"),
    (
        email(phone_number="07700900123"),
        400,
        "ValidationError",
        "Additional properties are not allowed (phone_number was unexpected)",
    ),
]


@pytest.mark.parametrize(("body", "status", "error", "message"), EMAIL_CASES)
def test_email_errors(gw: Gateway, body: dict[str, Any], status: int, error: str, message: str) -> None:
    assert_error(gw.post("email", body), status, error, message)


def test_email_empty_and_too_long(gw: Gateway) -> None:
    gw.template(EMAIL_TEMPLATE, content="((name))", subject="Subject")
    assert_error(
        gw.post("email", email(personalisation={"name": ""})),
        400,
        "BadRequestError",
        "Your message is empty.",
    )
    r = gw.post("email", email(personalisation={"name": "a" * 2_000_001}))
    message = (
        "Your message is too long. Emails cannot be longer than 2000000 bytes. Your message is 2000001 bytes."
    )
    assert_error(r, 400, "BadRequestError", message)
    assert gw.post("email", email(personalisation={"name": "a" * 2_000_000})).status_code == 201


def test_email_template_state_and_permission(gw: Gateway) -> None:
    gw.template(EMAIL_TEMPLATE, archived=True)
    assert_error(gw.post("email", email()), 400, "BadRequestError", "Template has been deleted")
    gw.service = make_service(permissions=["sms", "letter"])
    assert_error(gw.post("email", email()), 400, "BadRequestError", "Service is not allowed to send emails")


# --------------------------------------------------------------------------------------------------
# POST letter (templated)

LETTER_CASES = [
    # address checks, in the order of public-api.md §5.3
    ({"address_line_1": "A Person", "postcode": "SW1A 1AA"}, "Address must be at least 3 lines"),
    (
        {"address_line_1": "---", "address_line_2": "1 Street", "postcode": "SW1A 1AA"},
        "The first 2 lines of the address must both include at least one alphanumeric character",
    ),
    (
        {
            "address_line_1": "Sgt A",
            "address_line_2": "Unit 1",
            "address_line_3": "BFPO 801",
            "postcode": "France",
        },
        "The last line of a BFPO address must not be a country.",
    ),
    (
        {**ADDRESS, "postcode": "Nowhere"},
        "Last line of address must be a real UK postcode or another country",
    ),
    ({**ADDRESS, "address_line_2": "@home"}, BAD_START),
    ({**ADDRESS, "address_line_2": "(home)"}, BAD_START),
    ({**ADDRESS, "address_line_2": "no fixed abode"}, "Must be a real address"),
    ({**ADDRESS, "address_line_2": "NFA"}, "Must be a real address"),
]


@pytest.mark.parametrize(("address", "message"), LETTER_CASES)
def test_letter_address_errors(gw: Gateway, address: dict[str, Any], message: str) -> None:
    assert_error(gw.post("letter", letter(address)), 400, "ValidationError", message)


def test_letter_uk_postcode_only_without_international_letters(gw: Gateway) -> None:
    gw.service = make_service(permissions=["letter"])
    for last_line in ("Nowhere", "France"):
        r = gw.post("letter", letter({**ADDRESS, "postcode": last_line}))
        assert_error(r, 400, "ValidationError", "Must be a real UK postcode")


def test_letter_key_and_trial_rules_are_403(gw: Gateway) -> None:
    gw.key_type = "team"
    assert_error(
        gw.post("letter", letter()), 403, "BadRequestError", "Cannot send letters with a team api key"
    )
    gw.key_type = "normal"
    gw.service = make_service(restricted=True)
    r = gw.post("letter", letter())
    assert_error(r, 403, "BadRequestError", "Cannot send letters when service is in trial mode")
    gw.key_type = "test"
    assert gw.post("letter", letter()).status_code == 201


def test_letter_key_rules_come_before_the_address(gw: Gateway) -> None:
    gw.key_type = "team"
    r = gw.post("letter", letter({"address_line_1": "A"}))
    assert_error(r, 403, "BadRequestError", "Cannot send letters with a team api key")


def test_letter_qr_code_too_long(gw: Gateway) -> None:
    url = "https://example.gov.uk/" + "a" * 600
    gw.template(LETTER_TEMPLATE, content=f"Scan this\n\nqr: {url}")
    r = gw.post("letter", letter())
    assert r.status_code == 400
    [item] = r.json()["errors"]
    assert item["error"] == "ValidationError"
    assert item["message"] == "Cannot create a usable QR code - the link is too long"
    assert item["data"] == url
    assert item["max_bytes"] == 504
    assert item["num_bytes"] > 504


def test_letter_service_and_template_errors(gw: Gateway) -> None:
    assert_error(gw.post("letter", letter(template_id=UNKNOWN)), 400, "BadRequestError", "Template not found")
    r = gw.post("letter", letter(template_id=SMS_TEMPLATE))
    assert_error(r, 400, "BadRequestError", "sms template is not suitable for letter notification")
    r = gw.post("letter", letter(template_id=EMAIL_TEMPLATE))
    assert_error(r, 400, "BadRequestError", "email template is not suitable for letter notification")
    r = gw.post("letter", {"template_id": LETTER_TEMPLATE, "personalisation": ADDRESS})
    assert_error(r, 400, "BadRequestError", "Missing personalisation: name")
    gw.template(LETTER_TEMPLATE, archived=True)
    assert_error(gw.post("letter", letter()), 400, "BadRequestError", "Template has been deleted")
    gw.service = make_service(permissions=["sms", "email"])
    assert_error(
        gw.post("letter", letter()), 400, "BadRequestError", "Service is not allowed to send letters"
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"template_id": LETTER_TEMPLATE}, "personalisation is a required property"),
        ({"personalisation": ADDRESS}, "template_id is a required property"),
        (letter(template_id="nope"), "template_id is not a valid UUID"),
        (letter(postage="first"), "Additional properties are not allowed (postage was unexpected)"),
        # docs-only (D) rows of §10: what the code says instead
        (
            letter(letter_contact_id=UNKNOWN),
            "Additional properties are not allowed (letter_contact_id was unexpected)",
        ),
    ],
)
def test_letter_schema_errors(gw: Gateway, body: dict[str, Any], message: str) -> None:
    assert_error(gw.post("letter", body), 400, "ValidationError", message)


def test_letter_without_address_line_1_is_the_line_count_error(gw: Gateway) -> None:
    """Docs: `personalisation address_line_1 is a required property`; the code checks the line count instead."""
    gw.template(LETTER_TEMPLATE, content="No placeholders", subject="Hello")
    r = gw.post("letter", {"template_id": LETTER_TEMPLATE, "personalisation": {}})
    assert_error(r, 400, "ValidationError", "Address must be at least 3 lines")


# --------------------------------------------------------------------------------------------------
# POST letter (precompiled): the schema is checked; the rest waits for precompiled support


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"content": "JVBERi0="}, "reference is a required property"),
        ({"reference": None, "content": "JVBERi0="}, "reference None is not of type string"),
        (
            {"reference": "r", "content": "JVBERi0=", "postage": "third"},
            "postage invalid. It must be either first, second or economy.",
        ),
        (
            {"reference": "r", "content": "JVBERi0=", "template_id": LETTER_TEMPLATE},
            "Additional properties are not allowed (template_id was unexpected)",
        ),
    ],
)
def test_precompiled_letter_schema_errors(gw: Gateway, body: dict[str, Any], message: str) -> None:
    assert_error(gw.post("letter", body), 400, "ValidationError", message)


def test_a_precompiled_letter_is_stored_then_announced_and_answered_with_id_reference_postage(
    gw: Gateway,
) -> None:
    original = gw.ctx.broker.publish

    async def publish(envelope: Any) -> None:
        gw.ctx.letters.order.append("publish")
        await original(envelope)

    gw.ctx.broker.publish = publish  # type: ignore[method-assign]
    r = gw.post("letter", {"reference": "my-ref", "content": "JVBERi0xLjQK"})
    assert r.status_code == 201
    body = r.json()
    assert set(body) == {"id", "reference", "postage"}
    assert (body["reference"], body["postage"]) == ("my-ref", "second")
    nid = uuid.UUID(body["id"])
    assert gw.ctx.letters.pdfs[nid] == b"%PDF-1.4\n"
    assert gw.ctx.letters.order == ["upload", "publish"]
    (event,) = [e.payload for e in gw.ctx.broker.published]
    assert event.notification_id == nid and event.precompiled is True
    assert (event.template_id, event.recipient, event.body) == (
        uuid.UUID(PRECOMPILED_TEMPLATE),
        "Provided as PDF",
        "",
    )
    assert (event.client_reference, event.postage, event.notification_type) == ("my-ref", "second", "letter")
    # read-your-writes: the public GET shows the placeholder address and the virus-check status at once
    shown = gw.client.get(f"/v2/notifications/{nid}").json()
    assert (shown["status"], shown["line_1"], shown["line_2"], shown["postcode"]) == (
        "pending-virus-check",
        "Provided as PDF",
        None,
        None,
    )
    assert (
        gw.post("letter", {"reference": None, "content": "JVBERi0xLjQK", "postage": "first"}).status_code
        == 400
    )
    first = gw.post("letter", {"reference": "r2", "content": "JVBERi0xLjQK", "postage": "first"}).json()
    assert first["postage"] == "first"


def test_a_precompiled_letter_is_not_accepted_when_its_pdf_cannot_be_stored(gw: Gateway) -> None:
    gw.ctx.letters.error = InternalUnavailable("ConnectError")
    r = gw.post("letter", {"reference": "r", "content": "JVBERi0xLjQK"})
    assert r.status_code == 503 and r.json()["errors"][0]["error"] == "ServiceUnavailableError"
    gw.ctx.letters.error = PdfTooLarge()
    assert_error(
        gw.post("letter", {"reference": "r", "content": "JVBERi0xLjQK"}),
        413,
        "BadRequestError",
        "Letter content is too large",
    )
    assert gw.ctx.broker.published == []


def _stored(gw: Gateway, kind: str = "letter", status: str = "created") -> uuid.UUID:
    nid = uuid.uuid4()
    gw.ctx.notifications.stored[nid] = {"id": str(nid), "notification_type": kind, "status": status}
    return nid


@pytest.mark.parametrize(
    ("kind", "status", "error", "message"),
    [
        ("sms", "delivered", "BadRequestError", "Notification is not a letter"),
        ("letter", "virus-scan-failed", "BadRequestError", "File did not pass the virus scan"),
        (
            "letter",
            "technical-failure",
            "BadRequestError",
            "PDF not available for letters in status technical-failure",
        ),
        ("letter", "pending-virus-check", "PDFNotReadyError", "PDF not available yet, try again later"),
        (
            "letter",
            "created",
            "PDFNotReadyError",
            "PDF not available yet, try again later",
        ),  # not rendered yet
    ],
)
def test_letter_pdf_refusals(gw: Gateway, kind: str, status: str, error: str, message: str) -> None:
    nid = _stored(gw, kind, status)
    assert_error(gw.client.get(f"/v2/notifications/{nid}/pdf"), 400, error, message)


def test_letter_pdf_is_the_raw_bytes_and_bad_ids_are_refused(gw: Gateway) -> None:
    nid = _stored(gw, "letter", "sending")
    gw.ctx.letters.pdfs[nid] = b"%PDF-1.7 bytes"
    r = gw.client.get(f"/v2/notifications/{nid}/pdf")
    assert (r.status_code, r.headers["content-type"], r.content) == (
        200,
        "application/pdf",
        b"%PDF-1.7 bytes",
    )
    assert_error(
        gw.client.get("/v2/notifications/nope/pdf"),
        400,
        "ValidationError",
        "notification_id is not a valid UUID",
    )
    assert_error(
        gw.client.get(f"/v2/notifications/{uuid.uuid4()}/pdf"), 404, "NoResultFound", "No result found"
    )
    gw.ctx.letters.error = InternalUnavailable("ConnectError")
    assert gw.client.get(f"/v2/notifications/{nid}/pdf").status_code == 503


def test_precompiled_letter_key_trial_and_base64_errors(gw: Gateway) -> None:
    body = {"reference": "r", "content": "JVBERi0="}
    gw.key_type = "team"
    assert_error(gw.post("letter", body), 403, "BadRequestError", "Cannot send letters with a team api key")
    gw.key_type = "normal"
    gw.service = make_service(restricted=True)
    assert_error(
        gw.post("letter", body), 403, "BadRequestError", "Cannot send letters when service is in trial mode"
    )
    gw.service = make_service()
    assert_error(
        gw.post("letter", {**body, "content": "not base64!"}),
        400,
        "BadRequestError",
        "Cannot decode letter content (invalid base64 encoding)",
    )


def test_precompiled_letter_with_empty_content_is_a_400_not_a_503(gw: Gateway) -> None:
    """Found by the fuzz test: ``""`` decodes to no bytes, which delivery-letter refused, and the gateway answered
    that refusal with 503."""
    assert_error(
        gw.post("letter", {"reference": "r", "content": ""}),
        400,
        "BadRequestError",
        "Letter content is empty",
    )


def test_address_of_more_than_seven_lines(gw: Gateway) -> None:
    address = {
        "address_line_1": "A\nB\nC",
        "address_line_2": "D",
        "address_line_3": "E",
        "postcode": "SW1A 1AA\nX\nY",
    }
    assert_error(
        gw.post("letter", letter(address)), 400, "ValidationError", "Address must be no more than 7 lines"
    )


# Every documented send error is produced here, or for files by email in test_files.py.
# --------------------------------------------------------------------------------------------------
# the 201 bodies leave the route untouched by the OpenAPI response models


def test_201_bodies_are_the_exact_json_built_by_the_send_path(gw: Gateway) -> None:
    r = gw.post("email", email(sanitise_content_for=["name"], personalisation={"name": "[x](https://e.vil)"}))
    assert r.status_code == 201
    body = r.json()
    assert list(body) == [
        "id",
        "reference",
        "content",
        "uri",
        "template",
        "scheduled_for",
        "sanitised_content",
    ]
    assert body["sanitised_content"] == {
        "name": {"unsanitised": "[x](https://e.vil)", "sanitised": "\\[x\\]\\(\\)"}
    }
    assert r.headers["content-type"] == "application/json"
    r = gw.post("sms", sms(reference="r1"))
    assert r.status_code == 201
    assert r.json()["content"] == {"body": "Hi Ada", "from_number": "GOVUK"}
    assert r.json()["reference"] == "r1"
    r = gw.post("letter", letter())
    assert r.status_code == 201
    assert r.json()["content"] == {"body": "Hi Ada", "subject": "About Ada"}


def test_a_sender_added_a_moment_ago_is_found_by_reading_the_service_again(gw: Gateway) -> None:
    new_sender = str(uuid.uuid4())
    new_reply_to = str(uuid.uuid4())
    # The cached record predates both; the service as notifications has it now knows them.
    gw.ctx.notifications.services[SERVICE_ID] = make_service(
        sms_senders=[{"id": new_sender, "sms_sender": "NEWSENDER", "is_default": False, "archived": False}],
        email_reply_to=[
            {
                "id": new_reply_to,
                "email_address": "new@example.gov.uk",
                "is_default": False,
                "archived": False,
            }
        ],
    )
    assert gw.post("sms", sms(sms_sender_id=new_sender)).status_code == 201
    assert gw.post("email", email(email_reply_to_id=new_reply_to)).status_code == 201
    sent_sms, sent_email = [e.payload for e in gw.ctx.broker.published]
    assert sent_sms.sender == "NEWSENDER"
    assert sent_email.sender == "new@example.gov.uk"


def test_an_unknown_sender_is_still_refused_after_the_fresh_read(gw: Gateway) -> None:
    gw.ctx.notifications.services[SERVICE_ID] = make_service()
    unknown = str(uuid.uuid4())
    r = gw.post("sms", sms(sms_sender_id=unknown))
    assert_error(
        r,
        400,
        "BadRequestError",
        f"sms_sender_id {unknown} does not exist in database for service id {SERVICE_ID}",
    )


@pytest.mark.parametrize(
    ("channel", "body", "field"),
    [
        ("sms", sms(reference="ref\x00"), "reference"),
        ("sms", sms(personalisation={"name": "A\x00da"}), "personalisation"),
        ("sms", sms(personalisation={"na\x00me": "Ada"}), "personalisation"),
        ("email", email(personalisation={"name": ["Ada", "\x00"]}), "personalisation"),
        ("letter", letter(reference="r\x00"), "reference"),
    ],
)
def test_a_nul_character_anywhere_is_refused_before_anything_is_accepted(
    gw: Gateway, channel: str, body: dict[str, Any], field: str
) -> None:
    """Found by the fuzz test: a reference holding U+0000 was answered 201, and then could never be stored
    (PostgreSQL refuses NUL in text and jsonb), so an accepted notification would have ended in a dead-letter queue."""
    assert_error(
        gw.post(channel, body),
        400,
        "ValidationError",
        f"{field} must not contain the NUL character (\\u0000)",
    )
    assert gw.ctx.broker.published == []
    assert gw.post(channel, _without_nul(body)).status_code == 201  # the same send without it is accepted
    assert len(gw.ctx.broker.published) == 1


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    return value
