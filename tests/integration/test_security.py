"""Security, end to end against the running stack: the JWT matrix (public-api.md §2.2) answered exactly; one
service's key never reads or changes another service's notifications, templates, senders, jobs or received texts;
admin routes refuse API-key tokens and API routes refuse admin tokens; API key secrets and callback tokens are
nowhere in plain text in any database or in Redis; oversize bodies and uploads get 413; and no personal data is in
any log line of the whole run.

Proved elsewhere, not repeated here: every rule of the auth order at unit level, with forged tokens
(services/api-gateway/tests/test_auth.py); a revoked key answered ``Invalid token: API key revoked`` within a second
(test_key_revocation.py); missing, non-Bearer and undecodable tokens, and admin routes refusing a missing token
(test_auth_and_health.py); another service's template id on ``GET /v2/template/{id}`` and another service's
received-text id as ``older_than`` (test_public_reads.py).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import io
import json
import re
import secrets
import socket
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
import redis
from cryptography.hazmat.primitives.asymmetric import rsa
from notifications_python_client.errors import HTTPError
from notifications_python_client.notifications import NotificationsAPIClient
from notify_gateway.auth import create_jwt
from notify_tools.admin_client import AdminApiError, AdminClient
from notify_tools.demo import create_demo
from notify_tools.launcher import RunningStack
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from .helpers import csv_bytes, eventually, status_or_none

LONG_MESSAGE = (
    "Invalid token: make sure your API token matches the example at "
    "https://docs.notifications.service.gov.uk/rest-api.html#authorisation-header"
)
CLOCK = "Error: Your system clock must be accurate to within 30 seconds"
NOT_FOUND = (404, "NoResultFound", "No result found")
# A UK mobile number of the 07700 range the tests send to, as typed, normalised or with a + (not part of a longer
# number such as a port or an id).
UK_TEST_MOBILE = re.compile(r"(?<![0-9])(?:\+?44 ?|0)7700 ?[0-9]{3} ?[0-9]{3}(?![0-9])")


# --------------------------------------------------------------------------------------------------
# helpers


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _forge(header: dict[str, Any], payload: dict[str, Any], secret: str) -> str:
    """A token with any header, signed with HMAC-SHA256 over the secret's text (what an RS256-confusion attack
    sends: an asymmetric algorithm named, a symmetric signature made with a key the server holds)."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def _secret(key: str) -> str:
    return key[-36:]


def _client(service: dict[str, Any], key_type: str = "normal") -> NotificationsAPIClient:
    return NotificationsAPIClient(service["api_keys"][key_type], base_url=service["base_url"])


def _error(call: Callable[[], Any]) -> tuple[int, str, str]:
    with pytest.raises(HTTPError) as caught:
        call()
    message = caught.value.message
    assert isinstance(message, list) and len(message) == 1, message
    return caught.value.status_code, message[0]["error"], message[0]["message"]


def _admin_refusal(call: Callable[[], Any]) -> tuple[int, Any]:
    with pytest.raises(AdminApiError) as caught:
        call()
    return caught.value.status_code, caught.value.body


def _start_of_a_second() -> None:
    """Wait until just after a whole second, so a token's ``iat`` and the server's clock are read in the same
    second (the ±31 s cases are then exact, not one second either side)."""
    time.sleep(1.02 - time.time() % 1)


# --------------------------------------------------------------------------------------------------
# fixtures: service A (the caller), service B (another tenant), service C (archived)


@pytest.fixture(scope="module")
def a(stack: RunningStack) -> dict[str, Any]:
    return create_demo(stack.base_url, stack.admin_secret)


@pytest.fixture(scope="module")
def b(stack: RunningStack, admin: AdminClient, db: Engine) -> dict[str, Any]:
    """Another service with something of everything: a text, a letter, a finished job's notification, a job
    scheduled for tomorrow, a received text, an SMS sender and an email reply-to address."""
    made = create_demo(stack.base_url, stack.admin_secret)
    sid, user = made["service_id"], made["user_id"]
    client = _client(made)
    made["sms"] = client.send_sms_notification(
        phone_number="07700900321",
        template_id=made["templates"]["sms"],
        personalisation={"name": "B", "reference": "1"},
    )["id"]
    made["letter"] = client.send_letter_notification(
        template_id=made["templates"]["letter"],
        personalisation={
            "address_line_1": "B Person",
            "address_line_2": "2 Other Street",
            "postcode": "SW1A 1AA",
            "name": "B",
            "thing": "permit",
        },
    )["id"]

    def upload(rows: list[list[str]]) -> str:
        report = admin.upload(
            f"/service/{sid}/job/upload", "b.csv", csv_bytes(rows), template_id=made["templates"]["sms"]
        )["data"]
        return str(report["id"])

    made["job"] = upload([["phone number", "name", "reference"], ["07700900322", "B", "2"]])
    admin.post(f"/service/{sid}/job", {"id": made["job"], "created_by": user})
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S")
    made["scheduled_job"] = upload([["phone number", "name", "reference"], ["07700900323", "B", "3"]])
    admin.post(
        f"/service/{sid}/job", {"id": made["scheduled_job"], "created_by": user, "scheduled_for": tomorrow}
    )
    page = eventually(
        lambda: admin.get(f"/service/{sid}/job/{made['job']}/notifications")["notifications"],
        lambda n: len(n) == 1,
        timeout=60,
    )
    assert len(page) == 1
    made["job_notification"] = page[0]["id"]

    made["received_text"] = str(uuid.uuid4())
    with db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO inbound_sms (id, service_id, notify_number, user_number, content, provider_date,"
                " provider_reference, created_at) VALUES (:id, :sid, '07700900456', '447700900324', 'For B only',"
                " now(), 'b-ref', now())"
            ),
            {"id": made["received_text"], "sid": sid},
        )
    made["sms_sender"] = admin.get(f"/service/{sid}/sms-sender")[0]["id"]
    made["reply_to"] = admin.post(
        f"/service/{sid}/email-reply-to", {"email_address": "b-replies@example.gov.uk", "is_default": True}
    )["data"]["id"]
    made["api_key_ids"] = {k["name"]: k["id"] for k in admin.get(f"/service/{sid}/api-keys")["apiKeys"]}
    return made


@pytest.fixture(scope="module")
def archived(stack: RunningStack, admin: AdminClient) -> dict[str, Any]:
    """A service whose key worked (so the gateway has it cached) and that was then archived."""
    made = create_demo(stack.base_url, stack.admin_secret)
    _client(made).get_all_templates()
    admin.post(f"/service/{made['service_id']}/archive")
    url = f"{stack.base_url}/v2/templates"

    def answer() -> int:
        token = create_jwt(made["service_id"], _secret(made["api_keys"]["normal"]))
        return httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code

    eventually(answer, lambda status: status != 200, timeout=5)
    return made


# --------------------------------------------------------------------------------------------------
# the JWT matrix


@functools.cache
def _rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _token_cases() -> dict[str, tuple[Callable[..., str], int, str]]:
    """name → (token maker(a, b, archived, stack), status, message)."""

    def claims(service: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return {"iss": service["service_id"], "iat": int(time.time()), **extra}

    def secret_of(service: dict[str, Any]) -> str:
        return _secret(service["api_keys"]["normal"])

    return {
        "alg none": (
            lambda a, b, c, s: jwt.encode(claims(a), None, algorithm="none"),
            403,
            "Invalid token: algorithm used is not HS256",
        ),
        "HS512 with the right secret": (
            lambda a, b, c, s: jwt.encode(claims(a), secret_of(a), algorithm="HS512"),
            403,
            "Invalid token: algorithm used is not HS256",
        ),
        "RS256 header, HMAC signature with the secret": (
            lambda a, b, c, s: _forge({"alg": "RS256", "typ": "JWT"}, claims(a), secret_of(a)),
            403,
            "Invalid token: algorithm used is not HS256",
        ),
        "RS256 signed with an RSA key": (
            lambda a, b, c, s: jwt.encode(claims(a), _rsa_key(), algorithm="RS256"),
            403,
            "Invalid token: algorithm used is not HS256",
        ),
        "wrong secret": (
            lambda a, b, c, s: create_jwt(a["service_id"], str(uuid.uuid4())),
            403,
            "Invalid token: API key not found",
        ),
        "iat 31 s in the past": (
            lambda a, b, c, s: create_jwt(a["service_id"], secret_of(a), iat=int(time.time()) - 31),
            403,
            CLOCK,
        ),
        "iat 31 s in the future": (
            lambda a, b, c, s: create_jwt(a["service_id"], secret_of(a), iat=int(time.time()) + 31),
            403,
            CLOCK,
        ),
        "iat 31 s in the past, wrong secret": (
            lambda a, b, c, s: create_jwt(a["service_id"], str(uuid.uuid4()), iat=int(time.time()) - 31),
            403,
            "Invalid token: API key not found",
        ),
        "no iss": (
            lambda a, b, c, s: _forge(
                {"alg": "HS256", "typ": "JWT"}, {"iat": int(time.time())}, secret_of(a)
            ),
            403,
            "Invalid token: iss field not provided",
        ),
        "iss not a UUID": (
            lambda a, b, c, s: create_jwt("not-a-uuid", secret_of(a)),
            403,
            "Invalid token: service id is not the right data type",
        ),
        "iss a service that does not exist": (
            lambda a, b, c, s: create_jwt(str(uuid.uuid4()), secret_of(a)),
            403,
            "Invalid token: service not found",
        ),
        "archived service": (
            lambda a, b, c, s: create_jwt(c["service_id"], secret_of(c)),
            403,
            "Invalid token: service is archived",
        ),
        "A's id signed with B's secret": (
            lambda a, b, c, s: create_jwt(a["service_id"], secret_of(b)),
            403,
            "Invalid token: API key not found",
        ),
        "B's id signed with A's secret": (
            lambda a, b, c, s: create_jwt(b["service_id"], secret_of(a)),
            403,
            "Invalid token: API key not found",
        ),
        "an admin token": (
            lambda a, b, c, s: create_jwt("notify-admin", s.admin_secret),
            403,
            "Invalid token: service id is not the right data type",
        ),
        "an aud claim": (
            lambda a, b, c, s: jwt.encode(claims(a, aud="notify"), secret_of(a), algorithm="HS256"),
            403,
            LONG_MESSAGE,
        ),
    }


TOKEN_CASES = _token_cases()


def _v2_routes(service: dict[str, Any]) -> list[tuple[str, str, dict[str, Any] | None]]:
    """One route of each v2 family, with a body that would succeed under a good token."""
    sms = {"phone_number": "07700900111", "template_id": service["templates"]["sms"],
           "personalisation": {"name": "X", "reference": "Y"}}  # fmt: skip
    return [
        ("GET", "/v2/templates", None),
        ("GET", f"/v2/template/{service['templates']['sms']}", None),
        (
            "POST",
            f"/v2/template/{service['templates']['sms']}/preview",
            {"personalisation": {"name": "X", "reference": "Y"}},
        ),
        ("GET", "/v2/notifications", None),
        ("GET", "/v2/received-text-messages", None),
        ("POST", "/v2/notifications/sms", sms),
    ]


@pytest.mark.parametrize("case", list(TOKEN_CASES))
def test_jwt_matrix_is_answered_exactly_as_notify_answers_it(
    stack: RunningStack, a: dict[str, Any], b: dict[str, Any], archived: dict[str, Any], case: str
) -> None:
    make, status, message = TOKEN_CASES[case]
    for method, path, body in _v2_routes(a):
        if "iat" in case:
            _start_of_a_second()
        token = make(a, b, archived, stack)
        response = httpx.request(
            method, stack.base_url + path, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        assert response.status_code == status, (path, response.text)
        assert response.json() == {
            "status_code": status,
            "errors": [{"error": "AuthError", "message": message}],
        }


def test_the_matrix_routes_succeed_with_a_good_token(stack: RunningStack, a: dict[str, Any]) -> None:
    """The matrix's refusals are the token's doing: the same requests with A's own fresh token succeed (the text
    goes to a smoke-test number, so nothing is stored)."""
    for method, path, body in _v2_routes(a):
        token = create_jwt(a["service_id"], _secret(a["api_keys"]["normal"]))
        response = httpx.request(
            method, stack.base_url + path, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        assert response.status_code in (200, 201), (path, response.text)


# --------------------------------------------------------------------------------------------------
# admin routes and API routes keep to their own tokens


ADMIN_TOKEN_CASES: dict[str, tuple[Callable[[str], str], int, str]] = {
    "alg none": (
        lambda secret: jwt.encode({"iss": "notify-admin", "iat": int(time.time())}, None, algorithm="none"),
        403,
        "Invalid token: algorithm used is not HS256",
    ),
    "HS512 with the right secret": (
        lambda secret: jwt.encode(
            {"iss": "notify-admin", "iat": int(time.time())}, secret, algorithm="HS512"
        ),
        403,
        "Invalid token: algorithm used is not HS256",
    ),
    "RS256 header, HMAC signature with the secret": (
        lambda secret: _forge({"alg": "RS256"}, {"iss": "notify-admin", "iat": int(time.time())}, secret),
        403,
        "Invalid token: algorithm used is not HS256",
    ),
    "iat 31 s in the past": (
        lambda secret: create_jwt("notify-admin", secret, iat=int(time.time()) - 31),
        403,
        CLOCK,
    ),
    "iat 31 s in the future": (
        lambda secret: create_jwt("notify-admin", secret, iat=int(time.time()) + 31),
        403,
        CLOCK,
    ),
    "no iss": (
        lambda secret: _forge({"alg": "HS256", "typ": "JWT"}, {"iat": int(time.time())}, secret),
        403,
        "Invalid token: iss field not provided",
    ),
    "another internal client with the admin secret": (
        lambda secret: create_jwt("notify-functional-tests", secret),
        401,
        "Unauthorized: not allowed to perform this action",
    ),
}


@pytest.mark.parametrize("case", list(ADMIN_TOKEN_CASES))
def test_admin_jwt_matrix(stack: RunningStack, a: dict[str, Any], case: str) -> None:
    """The admin API's own checks (admin-api.md §2), answered in the admin envelope; wrong secrets and missing or
    service tokens are in test_auth_and_health.py."""
    make, status, message = ADMIN_TOKEN_CASES[case]
    for method, path in (("GET", f"/service/{a['service_id']}"), ("GET", f"/service/{a['service_id']}/job")):
        if "iat" in case:
            _start_of_a_second()
        token = make(stack.admin_secret)
        response = httpx.request(
            method, stack.base_url + path, headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        assert (response.status_code, response.json()) == (
            status,
            {"result": "error", "message": {"token": [message]}},
        ), path


def test_admin_routes_refuse_api_key_tokens_on_every_route_family(
    stack: RunningStack, admin: AdminClient, a: dict[str, Any], b: dict[str, Any]
) -> None:
    """Each admin entry point (the proxy to notifications and to jobs, the one-off send, the letter upload and
    send) answers an API key's token 401 before doing anything, whichever service's key it is."""
    sid, bid = a["service_id"], b["service_id"]
    keys_before = admin.get(f"/service/{sid}/api-keys")["apiKeys"]
    requests = [
        ("GET", "/service", None),
        ("GET", f"/user/{a['user_id']}", None),
        ("GET", "/inbound-number", None),
        (
            "POST",
            f"/service/{sid}/api-key",
            {"name": "sneaky", "key_type": "normal", "created_by": a["user_id"]},
        ),
        ("GET", f"/service/{sid}/job", None),
        ("POST", f"/service/{bid}/job/{b['scheduled_job']}/cancel", {}),
        ("POST", f"/service/{bid}/notifications/{b['letter']}/cancel", {}),
        (
            "POST",
            f"/service/{sid}/send-notification",
            {
                "template_id": a["templates"]["sms"],
                "to": "07700900111",
                "created_by": a["user_id"],
                "personalisation": {"name": "X", "reference": "Y"},
            },
        ),  # fmt: skip
        ("PUT", f"/service/{sid}/letter-upload/{uuid.uuid4()}", None),
        ("POST", f"/service/{sid}/send-pdf-letter", {}),
    ]
    for service in (a, b):
        token = create_jwt(service["service_id"], _secret(service["api_keys"]["normal"]))
        for method, path, body in requests:
            response = httpx.request(
                method,
                stack.base_url + path,
                json=body,
                headers={"Authorization": f"Bearer {token}"},
                timeout=10,
            )
            assert response.status_code == 401, (path, response.text)
            assert response.json() == {
                "result": "error",
                "message": {"token": ["Unauthorized: not allowed to perform this action"]},
            }, path
    assert admin.get(f"/service/{sid}/api-keys")["apiKeys"] == keys_before
    assert admin.get(f"/service/{bid}/job/{b['scheduled_job']}")["data"]["job_status"] == "scheduled"


# --------------------------------------------------------------------------------------------------
# tenant isolation: A's key against B's ids


def test_a_key_cannot_read_another_services_notifications(
    stack: RunningStack, a: dict[str, Any], b: dict[str, Any]
) -> None:
    client = _client(a)
    own = client.send_sms_notification(
        phone_number="07700900331",
        template_id=a["templates"]["sms"],
        personalisation={"name": "A", "reference": "1"},
    )["id"]
    theirs = [b["sms"], b["letter"], b["job_notification"]]
    for notification_id in theirs:
        assert _error(lambda nid=notification_id: client.get_notification_by_id(nid)) == NOT_FOUND
    assert _error(lambda: client.get_pdf_for_letter(b["letter"])) == NOT_FOUND
    for key_type in ("normal", "team", "test"):
        listed = _client(a, key_type).get_all_notifications(include_jobs=True)
        assert not {n["id"] for n in listed["notifications"]} & set(theirs)
    listed = client.get_all_notifications(include_jobs=True)
    assert own in {n["id"] for n in listed["notifications"]}
    # B's id is an unknown id to A: an empty page, not a point in time within A's own notifications.
    assert client.get_all_notifications(older_than=b["sms"])["notifications"] == []
    # B can still read its own, so the 404s above are isolation, not absence.
    assert {_client(b).get_notification_by_id(nid)["id"] for nid in theirs} == set(theirs)


def test_a_key_cannot_use_or_read_another_services_templates_or_senders(
    stack: RunningStack, admin: AdminClient, a: dict[str, Any], b: dict[str, Any]
) -> None:
    client = _client(a)
    for template_id in b["templates"].values():
        assert _error(lambda tid=template_id: client.get_template_version(tid, 1)) == NOT_FOUND
        assert _error(lambda tid=template_id: client.post_template_preview(tid, {"name": "A"})) == NOT_FOUND
    assert not {t["id"] for t in client.get_all_templates()["templates"]} & set(b["templates"].values())
    not_found = (400, "BadRequestError", "Template not found")
    personalisation = {"name": "A", "reference": "1", "thing": "x"}
    assert (
        _error(lambda: client.send_sms_notification("07700900332", b["templates"]["sms"], personalisation))
        == not_found
    )
    assert (
        _error(
            lambda: client.send_email_notification(
                "a@example.gov.uk", b["templates"]["email"], personalisation
            )
        )
        == not_found
    )
    address = {"address_line_1": "A", "address_line_2": "1 Street", "postcode": "SW1A 1AA"}
    assert (
        _error(
            lambda: client.send_letter_notification(b["templates"]["letter"], {**personalisation, **address})
        )
        == not_found
    )
    assert _error(
        lambda: client.send_sms_notification(
            "07700900332", a["templates"]["sms"], personalisation, sms_sender_id=b["sms_sender"]
        )
    ) == (
        400,
        "BadRequestError",
        f"sms_sender_id {b['sms_sender']} does not exist in database for service id {a['service_id']}",
    )
    assert _error(
        lambda: client.send_email_notification(
            "a@example.gov.uk", a["templates"]["email"], personalisation, email_reply_to_id=b["reply_to"]
        )
    ) == (
        400,
        "BadRequestError",
        f"email_reply_to_id {b['reply_to']} does not exist in database for service id {a['service_id']}",
    )
    # B's templates are untouched and still B's.
    for template_id in b["templates"].values():
        assert _client(b).get_template(template_id)["version"] == 1


def test_a_key_cannot_read_another_services_received_texts(a: dict[str, Any], b: dict[str, Any]) -> None:
    texts = [m["id"] for m in _client(a).get_received_texts_iterator()]
    assert b["received_text"] not in texts
    assert [m["id"] for m in _client(b).get_received_texts()["received_text_messages"]] == [
        b["received_text"]
    ]


def test_admin_calls_for_one_service_never_reach_another_services_records(
    stack: RunningStack, admin: AdminClient, a: dict[str, Any], b: dict[str, Any]
) -> None:
    """The admin API scopes every id by the service in its path: A's path with B's ids finds nothing, changes
    nothing."""
    sid, bid = a["service_id"], b["service_id"]
    reads = [
        f"/service/{sid}/notifications/{b['sms']}",
        f"/service/{sid}/template/{b['templates']['sms']}",
        f"/service/{sid}/template/{b['templates']['sms']}/version/1",
        f"/service/{sid}/job/{b['job']}",
        f"/service/{sid}/job/{b['job']}/notifications",
        f"/service/{sid}/inbound-sms/{b['received_text']}",
        f"/service/{sid}/sms-sender/{b['sms_sender']}",
        f"/service/{sid}/email-reply-to/{b['reply_to']}",
    ]
    for path in reads:
        assert _admin_refusal(lambda p=path: admin.get(p))[0] == 404, path
    writes = [
        (f"/service/{sid}/job/{b['scheduled_job']}/cancel", {}),
        (f"/service/{sid}/notifications/{b['letter']}/cancel", {}),
        (
            f"/service/{sid}/template/{b['templates']['sms']}",
            {"content": "Changed by A", "created_by": a["user_id"]},
        ),
        (f"/service/{sid}/api-key/revoke/{b['api_key_ids']['demo_normal']}", {"created_by": a["user_id"]}),
        (f"/service/{sid}/sms-sender/{b['sms_sender']}/archive", {}),
        (f"/service/{sid}/email-reply-to/{b['reply_to']}/archive", {}),
    ]
    for path, body in writes:
        assert _admin_refusal(lambda p=path, j=body: admin.post(p, j))[0] == 404, path
    assert admin.get(f"/service/{bid}/job/{b['scheduled_job']}")["data"]["job_status"] == "scheduled"
    assert admin.get(f"/service/{bid}/notifications/{b['letter']}")["status"] != "cancelled"
    assert admin.get(f"/service/{bid}/template/{b['templates']['sms']}")["data"]["version"] == 1
    assert admin.get(f"/service/{bid}/sms-sender/{b['sms_sender']}")["archived"] is False
    assert admin.get(f"/service/{bid}/email-reply-to/{b['reply_to']}")["archived"] is False
    _client(b).get_all_templates()  # B's normal key still works


# --------------------------------------------------------------------------------------------------
# secrets at rest


def _dump_databases(stack: RunningStack) -> str:
    """Every row of every table of every database of this run, as PostgreSQL prints it (``row::text``; bytea
    columns print as hex)."""
    server = make_url(stack.env["POSTGRES_URL"])
    prefix = stack.env["DATABASE_PREFIX"]
    listing = create_engine(server)
    try:
        with listing.connect() as conn:
            names = [
                n
                for n in conn.execute(text("SELECT datname FROM pg_database")).scalars()
                if n.startswith(prefix)
            ]
    finally:
        listing.dispose()
    assert len(names) >= 5, names
    chunks = []
    for name in names:
        engine = create_engine(server.set(database=name))
        try:
            with engine.connect() as conn:
                tables = conn.execute(
                    text(
                        "SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) FROM"
                        " information_schema.tables WHERE table_type = 'BASE TABLE'"
                        " AND table_schema NOT IN ('pg_catalog', 'information_schema')"
                    )
                ).scalars()
                for table in list(tables):
                    rows = conn.execute(text(f"SELECT t::text FROM {table} t")).scalars()
                    chunks.append(f"-- {name} {table}\n" + "\n".join(rows))
        finally:
            engine.dispose()
    return "\n".join(chunks)


def _dump_redis(stack: RunningStack) -> str:
    client = redis.Redis.from_url(stack.env["REDIS_URL"])
    out = []
    try:
        for key in client.scan_iter(match=stack.env.get("REDIS_PREFIX", "") + "*", count=1000):
            kind = client.type(key)
            if kind == b"string":
                value: Any = client.get(key)
            elif kind == b"hash":
                value = client.hgetall(key)
            elif kind == b"list":
                value = client.lrange(key, 0, -1)
            elif kind == b"set":
                value = client.smembers(key)
            elif kind == b"zset":
                value = client.zrange(key, 0, -1, withscores=True)
            else:
                value = client.dump(key)
            out.append(f"{key!r} {value!r}")
    finally:
        client.close()
    return "\n".join(out)


def test_api_key_secrets_and_callback_tokens_are_not_stored_in_plain_text(
    stack: RunningStack, admin: AdminClient
) -> None:
    """The plaintext is needed (HMAC, the callback's Authorization header: test_callbacks.py shows the receiver gets
    the token), so it is encrypted, not hashed; neither it nor its bytes appear in any database or Redis."""
    made = create_demo(stack.base_url, stack.admin_secret)
    sid = made["service_id"]
    for key_type in (
        "normal",
        "team",
        "test",
    ):  # every key is used, so whatever is cached or counted for it is there
        _client(made, key_type).send_sms_notification(
            "07700900001", made["templates"]["sms"], {"name": "A", "reference": "1"}
        )
    callback_tokens = {
        kind: f"cb-token-{kind}-{secrets.token_hex(12)}" for kind in ("delivery_status", "complaint")
    }
    for kind, token in callback_tokens.items():
        admin.post(
            f"/service/{sid}/callback-api",
            {
                "url": f"https://callbacks.example.gov.uk/{kind}",
                "bearer_token": token,
                "updated_by_id": made["user_id"],
                "callback_type": kind,
            },
        )
    key_secrets = [_secret(key) for key in made["api_keys"].values()]

    dump = _dump_databases(stack)
    # The dump holds the rows in question, so their absence below is not an empty dump's.
    key_ids = [k["id"] for k in admin.get(f"/service/{sid}/api-keys")["apiKeys"]]
    assert len(key_ids) == len(key_secrets)
    for key_id in key_ids:
        assert key_id in dump
    assert dump.count(sid) > 3
    cached = _dump_redis(stack)
    assert sid in cached  # the service's rate-limit buckets and accepted notifications, at least
    everything = dump + "\n" + cached
    for plain in [*key_secrets, *callback_tokens.values()]:
        for form in (plain, plain.encode().hex(), base64.b64encode(plain.encode()).decode()):
            assert form not in everything
    for secret in key_secrets:
        assert uuid.UUID(secret).hex not in everything


# --------------------------------------------------------------------------------------------------
# request size limits


def _json_limit(stack: RunningStack) -> int:
    from notify_gateway.settings import Settings

    return int(stack.env.get("MAX_JSON_BODY_BYTES", Settings.model_fields["max_json_body_bytes"].default))


def _padded(prefix: str, size: int) -> bytes:
    """``{<prefix>"pad": "xxx…"}`` of exactly ``size`` bytes."""
    head, tail = ("{" + prefix + '"pad": "').encode(), b'"}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


def test_json_bodies_over_the_limit_get_413_on_every_v2_post(stack: RunningStack, a: dict[str, Any]) -> None:
    limit = _json_limit(stack)
    too_large = {
        "status_code": 413,
        "errors": [
            {"error": "BadRequestError", "message": f"Request body is too large: the limit is {limit} bytes"}
        ],
    }
    client = _client(a)
    big = "x" * limit
    calls = [
        lambda: client.send_sms_notification(
            "07700900111", a["templates"]["sms"], {"name": big, "reference": "1"}
        ),
        lambda: client.send_email_notification(
            "simulate-delivered@notifications.service.gov.uk",
            a["templates"]["email"],
            {"name": big, "thing": "1"},
        ),
        lambda: client.send_letter_notification(
            a["templates"]["letter"],
            {
                "address_line_1": big,
                "address_line_2": "1 Street",
                "postcode": "SW1A 1AA",
                "name": "A",
                "thing": "x",
            },
        ),
        lambda: client.send_precompiled_letter_notification("big", io.BytesIO(b"%PDF-1.7\n" + b"x" * limit)),
        lambda: client.post_template_preview(a["templates"]["sms"], {"name": big, "reference": "1"}),
    ]
    for call in calls:
        assert _error(call) == (413, *too_large["errors"][0].values())
    token = create_jwt(a["service_id"], _secret(a["api_keys"]["normal"]))
    paths = [
        "/v2/notifications/sms",
        "/v2/notifications/email",
        "/v2/notifications/letter",
        f"/v2/template/{a['templates']['sms']}/preview",
    ]
    for path in paths:
        # One byte over: 413 with the v2 envelope. At the limit exactly: read and validated as usual.
        over = httpx.post(
            stack.base_url + path,
            content=_padded("", limit + 1),
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert (over.status_code, over.json()) == (413, too_large), path
        at = httpx.post(
            stack.base_url + path,
            content=_padded("", limit),
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert at.status_code != 413, path
        assert at.json()["status_code"] == at.status_code, path


def _answer_to_a_body_never_sent(
    stack: RunningStack, path: str, token: str, declared: int
) -> tuple[int, Any]:
    """POST ``path`` declaring a ``Content-Length`` of ``declared`` but sending only a few bytes of it: the
    status and JSON body of the answer, which must come without the rest (a socket timeout fails the test)."""
    with socket.create_connection(("127.0.0.1", stack.ports.gateway), timeout=5) as sock:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {declared}\r\n\r\n"
        )
        sock.sendall(head.encode() + b'{"personalisation": {"pad": "xxxx')

        def more() -> bytes:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("the gateway closed the connection without answering")
            return chunk

        data = b""
        while b"\r\n\r\n" not in data:
            data += more()
        header, _, body = data.partition(b"\r\n\r\n")
        lines = header.decode("latin-1").split("\r\n")
        fields = dict(line.partition(": ")[::2] for line in lines[1:])
        length = int({k.lower(): v for k, v in fields.items()}["content-length"])
        while len(body) < length:
            body += more()
        return int(lines[0].split()[1]), json.loads(body)


@pytest.mark.parametrize("route", ["preview", "sms"])
def test_a_body_declared_over_the_limit_is_refused_before_it_arrives(
    stack: RunningStack, a: dict[str, Any], route: str
) -> None:
    """Nothing is held in memory for a body that says it is too large: the 413 comes before the body does."""
    limit = _json_limit(stack)
    path = {"preview": f"/v2/template/{a['templates']['sms']}/preview", "sms": "/v2/notifications/sms"}[route]
    token = create_jwt(a["service_id"], _secret(a["api_keys"]["normal"]))
    status, body = _answer_to_a_body_never_sent(stack, path, token, 10 * limit)
    assert (status, body) == (
        413,
        {
            "status_code": 413,
            "errors": [
                {
                    "error": "BadRequestError",
                    "message": f"Request body is too large: the limit is {limit} bytes",
                }
            ],
        },
    )


def test_uploads_over_their_limits_get_413(
    stack: RunningStack, admin: AdminClient, a: dict[str, Any]
) -> None:
    from notify_delivery_letter.settings import Settings as LetterSettings
    from notify_jobs.settings import Settings as JobsSettings

    sid = a["service_id"]
    file_limit = int(
        stack.env.get("JOB_MAX_FILE_BYTES", JobsSettings.model_fields["job_max_file_bytes"].default)
    )
    pdf_limit = int(
        stack.env.get("LETTER_PDF_MAX_BYTES", LetterSettings.model_fields["letter_pdf_max_bytes"].default)
    )
    too_big_file = {
        "result": "error",
        "message": {"file": [f"The file must be smaller than {file_limit // 2**20} MB"]},
    }
    header = b"phone number,name,reference\n"
    for size in (
        file_limit + 1,
        file_limit + 2**20,
    ):  # read to the end and counted; refused on its declared size
        spreadsheet = header + b"x" * (size - len(header))
        uploads = {
            f"/service/{sid}/job/upload": {"template_id": a["templates"]["sms"]},
            f"/service/{sid}/contact-list/upload": {"template_type": "sms"},
        }
        for path, fields in uploads.items():
            status, body = _admin_refusal(
                lambda p=path, c=spreadsheet, f=fields: admin.upload(p, "big.csv", c, **f)
            )
            assert (status, body) == (413, too_big_file), (path, size)
    pdf = b"%PDF-1.7\n" + b"x" * (pdf_limit + 1 - 9)
    status, body = _admin_refusal(lambda: admin.put_pdf(f"/service/{sid}/letter-upload/{uuid.uuid4()}", pdf))
    assert (status, body) == (413, {"result": "error", "message": "Letter content is too large"})


# --------------------------------------------------------------------------------------------------
# personal data in logs: this test runs last (see conftest.py), so the log files it reads hold the whole run


def _distinct_mobile(rng: secrets.SystemRandom) -> tuple[str, list[str]]:
    """A UK mobile in the 07700 drama range no other test uses, as typed, and the forms a log could show it in."""
    digits = f"4{rng.randrange(10**5):05d}"
    typed = f"07700 {digits}"
    return typed, [typed, f"07700{digits}", f"447700{digits}", f"7700{digits}", f"7700 {digits}"]


@pytest.mark.run_last
def test_no_personal_data_in_any_log_line_of_the_run(
    stack: RunningStack, admin: AdminClient, callback_receiver: Any
) -> None:
    """Texts, emails and letters that are delivered or fail in each way the simulators offer (bounces, a complaint,
    SMTP refusals, a rejected and a returned letter) and a job row, with every callback type, all carrying values
    used nowhere else; once every one has finished, no log file of any process of the run contains one of
    them (phone numbers in every form, addresses, personalisation values, the client reference)."""
    rng = secrets.SystemRandom()
    tag = secrets.token_hex(4)
    made = create_demo(stack.base_url, stack.admin_secret)
    sid = made["service_id"]
    for kind, path in (
        ("delivery_status", "/status"),
        ("complaint", "/complaint"),
        ("returned_letter", "/returned"),
    ):
        admin.post(
            f"/service/{sid}/callback-api",
            {
                "url": callback_receiver.url(path),
                "bearer_token": f"log-scan-token-{tag}",
                "updated_by_id": made["user_id"],
                "callback_type": kind,
            },
        )
    client = _client(made)
    phone, phone_forms = _distinct_mobile(rng)
    job_phone, job_phone_forms = _distinct_mobile(rng)
    values = {
        "name": f"Persephone{tag}",
        "reference": f"Hushhush{tag}",
        "thing": f"Thingamajig{tag}",
        "client_reference": f"clientref{tag}",
        "email": f"ada.{tag}@lovelace-{tag}.example.gov.uk",
        "address_line_1": f"Ophelia Quartermaine {tag}",
        "address_line_2": f"17 Periwinkle Lane {tag}",
        "address_line_3": f"Little Snoring {tag}",
        "postcode": "NR21 0QZ",
        "job_name": f"Jobrow{tag}",
    }
    # Failure paths too (the simulators' and the sink's special recipients), with distinct domains and names.
    emails = {
        values["email"]: "delivered",
        f"perm-fail@bounce-{tag}.example.gov.uk": "permanent-failure",
        f"temp-fail@soft-{tag}.example.gov.uk": "temporary-failure",
        f"complaint@complaint-{tag}.example.gov.uk": "delivered",
        f"smtp-reject@reject-{tag}.example.gov.uk": "technical-failure",
        f"smtp-busy-1@busy-{tag}.example.gov.uk": "delivered",
    }
    phones = {phone: "delivered", "07700900002": "permanent-failure", "07700900003": "temporary-failure"}
    first_lines = {
        values["address_line_1"]: "received",
        f"Rosalind reject {tag}": "technical-failure",
        f"Rupert return {tag}": "received",
    }
    expected: dict[str, str] = {}
    personalisation = {"name": values["name"], "reference": values["reference"], "thing": values["thing"]}
    for number, status in phones.items():
        sent = client.send_sms_notification(
            number, made["templates"]["sms"], personalisation, reference=values["client_reference"]
        )
        expected[sent["id"]] = status
    for address, status in emails.items():
        sent = client.send_email_notification(
            address, made["templates"]["email"], personalisation, reference=values["client_reference"]
        )
        expected[sent["id"]] = status
    for first_line, status in first_lines.items():
        sent = client.send_letter_notification(
            made["templates"]["letter"],
            {
                **personalisation,
                "address_line_1": first_line,
                "address_line_2": values["address_line_2"],
                "address_line_3": values["address_line_3"],
                "postcode": values["postcode"],
            },
            reference=values["client_reference"],
        )
        expected[sent["id"]] = status
    report = admin.upload(
        f"/service/{sid}/job/upload",
        f"people-{tag}.csv",
        csv_bytes(
            [["phone number", "name", "reference"], [job_phone, values["job_name"], values["reference"]]]
        ),
        template_id=made["templates"]["sms"],
    )["data"]
    admin.post(f"/service/{sid}/job", {"id": report["id"], "created_by": made["user_id"]})

    finished = {"delivered", "received", "permanent-failure", "temporary-failure", "technical-failure"}
    for nid, status in expected.items():
        done = eventually(
            lambda n=nid: status_or_none(client, n),
            lambda n: n is not None and n["status"] in finished,
            timeout=90,
        )
        assert done is not None and done["status"] == status, (status, done)
    job_rows = eventually(
        lambda: admin.get(f"/service/{sid}/job/{report['id']}/notifications")["notifications"],
        lambda rows: len(rows) == 1 and rows[0]["status"] in finished,
        timeout=90,
    )
    assert len(job_rows) == 1 and job_rows[0]["status"] == "delivered"
    # A delivery-status callback for every text and email (the job's text included), the complaint, the return.
    callback_receiver.wait_for("/status", len(phones) + len(emails) + 1, timeout=60)
    callback_receiver.wait_for("/complaint", 1, timeout=60)
    callback_receiver.wait_for("/returned", 1, timeout=60)
    # Searches that carry personal data in the URL's query, as some clients send them (the admin app uses a POST
    # body for recipients so that they stay out of URLs), and the client reference in the public list's query.
    for query in ({"to": phone}, {"to": values["email"]}):
        assert len(admin.get(f"/service/{sid}/notifications", params=query)["notifications"]) == 1
        assert len(admin.post(f"/service/{sid}/notifications", query)["notifications"]) == 1
    assert client.get_all_notifications(reference=values["client_reference"])["notifications"]
    # Refusals whose messages echo what was sent (Notify's schema messages quote the bad value).
    refused_number = int(phone.replace(" ", "")[1:])
    refusals = [
        ({"phone_number": refused_number, "template_id": made["templates"]["sms"]}, "is not of type string"),
        (
            {
                "phone_number": phone,
                "template_id": made["templates"]["sms"],
                "reference": values["name"] * 100,
            },
            "is too long",
        ),
        (
            {
                "phone_number": phone,
                "template_id": made["templates"]["sms"],
                "personalisation": [values["thing"]],
            },
            "is not of type object",
        ),
    ]
    for body, says in refusals:
        status, error, message = _error(lambda b=body: client.post("/v2/notifications/sms", b))
        assert (status, error) == (400, "ValidationError") and says in message, message
    time.sleep(1)  # let every process write what it logs after the last receipt

    files = sorted(stack.log_dir.glob("*.log"))
    logs = {path.name: path.read_text(errors="replace") for path in files}
    everything = "\n".join(logs.values())
    # The logs did follow these sends (by id), so finding no personal data in them means something.
    for nid in expected:
        assert nid in everything, nid
    assert {f.stem for f in files} >= {
        "gateway",
        "notifications",
        "jobs",
        "delivery-sms",
        "delivery-email",
        "delivery-letter",
    }, files
    personal = [*phone_forms, *job_phone_forms, *values.values(), *emails, *first_lines]
    found = {f"{name}: {value}" for name, text_ in logs.items() for value in personal if value in text_}
    assert not found, sorted(found)
    # Nor any test's: every mobile number the tests use is in the 07700 range, in whichever form it was logged.
    numbers = {f"{name}: {m}" for name, text_ in logs.items() for m in UK_TEST_MOBILE.findall(text_)}
    assert not numbers, sorted(numbers)
