"""public-api.md §2.2 (service API keys) and admin-api.md §2 (admin clients), rule by rule."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from notifications_python_client.authentication import create_jwt_token
from notify_gateway import auth
from notify_gateway.auth import (
    ApiKeyRecord,
    AuthError,
    ServiceAuthRecord,
    authenticate_admin,
    authenticate_api_key,
    create_jwt,
)

NOW = 1_780_000_000  # a fixed "current time" (epoch seconds)
NOW_DT = datetime.fromtimestamp(NOW, UTC)

SERVICE_ID = uuid.UUID("26785a09-ab16-4eb0-8407-a37497a57506")
SECRET = "3d844edf-8d35-48ac-975b-e847b4f122b0"
OTHER_SECRET = "9a1b2c3d-0000-4000-8000-123456789abc"

LONG_MESSAGE = (
    "Invalid token: make sure your API token matches the example at "
    "https://docs.notifications.service.gov.uk/rest-api.html#authorisation-header"
)
CLOCK = "Error: Your system clock must be accurate to within 30 seconds"


def key(secret: str = SECRET, key_type: str = "normal", expiry: datetime | None = None) -> ApiKeyRecord:
    return ApiKeyRecord(id=uuid.uuid4(), secret=secret, key_type=key_type, expiry_date=expiry)


def service(
    *keys: ApiKeyRecord, active: bool = True, service_id: uuid.UUID = SERVICE_ID
) -> ServiceAuthRecord:
    return ServiceAuthRecord(id=service_id, active=active, api_keys=tuple(keys))


class Lookup:
    def __init__(self, *services: ServiceAuthRecord) -> None:
        self.services = {s.id: s for s in services}
        self.calls: list[uuid.UUID] = []
        self.fresh_calls = 0

    async def __call__(self, service_id: uuid.UUID, *, fresh: bool = False) -> ServiceAuthRecord | None:
        self.calls.append(service_id)
        self.fresh_calls += fresh
        return self.services.get(service_id)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict, payload: object, secret: str | bytes = SECRET, digest=hashlib.sha256) -> str:
    """Build a token by hand so header and payload can be anything (e.g. RS256 header, HMAC signature)."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    key_bytes = secret.encode() if isinstance(secret, str) else secret
    sig = hmac.new(key_bytes, signing_input.encode(), digest).digest()
    return f"{signing_input}.{b64(sig)}"


def token(iat: object = NOW, secret: str = SECRET, iss: object = str(SERVICE_ID), **extra: object) -> str:
    payload = {"iss": iss, "iat": iat, **extra}
    return forge({"alg": "HS256", "typ": "JWT"}, payload, secret)


async def check(header: str | None, lookup: Lookup | None = None, now: float = NOW):
    return await authenticate_api_key(header, lookup or Lookup(service(key())), now=now)


async def expect_error(header: str | None, status: int, message: str, lookup: Lookup | None = None, now=NOW):
    with pytest.raises(AuthError) as info:
        await check(header, lookup, now)
    assert (info.value.status_code, info.value.message) == (status, message)
    return info.value


# ------------------------------------------------------------------------------------------------
# success paths


async def test_valid_token_returns_service_and_matching_key():
    live = key()
    lookup = Lookup(service(live))
    svc, matched = await check(f"Bearer {token()}", lookup)
    assert svc.id == SERVICE_ID
    assert matched == live
    assert lookup.calls == [SERVICE_ID]


async def test_token_from_the_real_python_client_is_accepted():
    # notifications-python-client signs with the 36-char secret text; now=None uses the real clock.
    svc, matched = await authenticate_api_key(
        f"Bearer {create_jwt_token(SECRET, str(SERVICE_ID))}", Lookup(service(key()))
    )
    assert matched.secret == SECRET


async def test_create_jwt_makes_hs256_iss_iat_token():
    t = create_jwt(str(SERVICE_ID), SECRET, iat=NOW)
    assert jwt.get_unverified_header(t) == {"alg": "HS256", "typ": "JWT"}
    assert jwt.decode(t, SECRET, algorithms=["HS256"], options={"verify_iat": False}) == {
        "iss": str(SERVICE_ID),
        "iat": NOW,
    }
    await check(f"Bearer {t}")


async def test_second_key_matches_and_decides_the_key_type():
    first, second = key(OTHER_SECRET, "normal"), key(SECRET, "team")
    _, matched = await check(f"Bearer {token()}", Lookup(service(first, second)))
    assert matched == second
    assert matched.key_type == "team"


async def test_active_key_found_after_recently_revoked_keys():
    revoked = key(OTHER_SECRET, expiry=NOW_DT - timedelta(days=1))
    live = key(SECRET, "test")
    _, matched = await check(f"Bearer {token()}", Lookup(service(revoked, live)))
    assert matched == live


@pytest.mark.parametrize("scheme", ["Bearer ", "bearer ", "BEARER ", "bEaReR "])
async def test_bearer_scheme_case_insensitive(scheme):
    await check(scheme + token())


async def test_key_is_the_secret_text_not_the_uuid_bytes():
    t = forge({"alg": "HS256", "typ": "JWT"}, {"iss": str(SERVICE_ID), "iat": NOW}, uuid.UUID(SECRET).bytes)
    await expect_error(f"Bearer {t}", 403, "Invalid token: API key not found")


async def test_token_is_parsed_once_however_many_keys(monkeypatch):
    calls = []
    real = jwt.decode_complete

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(auth.jwt, "decode_complete", counting)
    keys = [key(str(uuid.uuid4())) for _ in range(200)] + [key()]
    _, matched = await check(f"Bearer {token()}", Lookup(service(*keys)))
    assert matched.secret == SECRET
    assert len(calls) == 1


# ------------------------------------------------------------------------------------------------
# rules 1 and 2


@pytest.mark.parametrize("header", [None, ""])
async def test_rule1_missing_or_empty_header(header):
    await expect_error(header, 401, "Unauthorized: authentication token must be provided")


@pytest.mark.parametrize(
    "header",
    [
        "Basic dXNlcjpwYXNz",
        "Bearer\t{t}",
        "Bearer{t}",
        "Bearer",
        "Token {t}",
        " Bearer {t}",
        "JWT {t}",
    ],
)
async def test_rule2_bearer_scheme_must_be_used(header):
    await expect_error(
        header.format(t=token()), 401, "Unauthorized: authentication bearer scheme must be used"
    )


# ------------------------------------------------------------------------------------------------
# rules 3 to 8


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "not-a-jwt",
        "a.b",
        "a.b.c",
        "!!!.???.***",
        b64(b'"just a string"') + "." + b64(b'{"iss": "x"}') + ".",  # header not an object
        b64(b'{"alg":"HS256"}') + "." + b64(b"[1, 2]") + ".",  # payload not an object
        b64(b'{"alg":"HS256"}') + "." + b64(b"not json") + ".",
    ],
)
async def test_rule3_undecodable_token(raw):
    await expect_error(f"Bearer {raw}", 403, LONG_MESSAGE)


async def test_rule4_no_iss():
    t = forge({"alg": "HS256", "typ": "JWT"}, {"iat": NOW})
    await expect_error(f"Bearer {t}", 403, "Invalid token: iss field not provided")


@pytest.mark.parametrize("iss", ["not-a-uuid", "", "26785a09-ab16-4eb0-8407", 12345, None, ["x"]])
async def test_rule5_iss_not_a_uuid(iss):
    lookup = Lookup(service(key()))
    await expect_error(
        f"Bearer {token(iss=iss)}", 403, "Invalid token: service id is not the right data type", lookup
    )
    assert lookup.calls == []


async def test_rule5_uuid_forms_python_accepts_are_parsed():
    # iss is parsed as a UUID, so upper case / no hyphens still identify the service.
    lookup = Lookup(service(key()))
    await check(f"Bearer {token(iss=SERVICE_ID.hex.upper())}", lookup)
    assert lookup.calls == [SERVICE_ID]


async def test_rule6_service_not_found():
    await expect_error(f"Bearer {token(iss=str(uuid.uuid4()))}", 403, "Invalid token: service not found")


async def test_rule7_service_without_keys():
    await expect_error(f"Bearer {token()}", 403, "Invalid token: service has no API keys", Lookup(service()))


async def test_rule7_keys_revoked_over_seven_days_ago_do_not_count():
    old = key(expiry=NOW_DT - timedelta(days=8))
    await expect_error(
        f"Bearer {token()}", 403, "Invalid token: service has no API keys", Lookup(service(old))
    )


async def test_rule7_comes_before_rule8():
    await expect_error(
        f"Bearer {token()}", 403, "Invalid token: service has no API keys", Lookup(service(active=False))
    )


async def test_rule8_archived_service():
    await expect_error(
        f"Bearer {token()}", 403, "Invalid token: service is archived", Lookup(service(key(), active=False))
    )


async def test_rule8_archived_service_with_only_recently_revoked_keys():
    recent = key(expiry=NOW_DT - timedelta(days=2))
    await expect_error(
        f"Bearer {token()}", 403, "Invalid token: service is archived", Lookup(service(recent, active=False))
    )


# ------------------------------------------------------------------------------------------------
# rule 9a: algorithm


PAYLOAD = {"iss": str(SERVICE_ID), "iat": NOW}


@pytest.mark.parametrize(
    "raw",
    [
        # alg none, no signature
        b64(b'{"alg":"none","typ":"JWT"}') + "." + b64(json.dumps(PAYLOAD).encode()) + ".",
        # HS512 with the correct secret
        forge({"alg": "HS512", "typ": "JWT"}, PAYLOAD, SECRET, hashlib.sha512),
        # HS512 with a wrong secret: the algorithm is refused before any signature check
        forge({"alg": "HS512", "typ": "JWT"}, PAYLOAD, OTHER_SECRET, hashlib.sha512),
        # RS256 header but HMAC-SHA256 signature with the secret (algorithm confusion)
        forge({"alg": "RS256", "typ": "JWT"}, PAYLOAD, SECRET),
        # "hs256" is not HS256
        forge({"alg": "hs256", "typ": "JWT"}, PAYLOAD, SECRET),
        # no alg at all
        forge({"typ": "JWT"}, PAYLOAD, SECRET),
    ],
    ids=["none", "HS512", "HS512-wrong-secret", "RS256-confusion", "lowercase", "missing"],
)
async def test_rule9a_algorithm_must_be_hs256(raw):
    await expect_error(f"Bearer {raw}", 403, "Invalid token: algorithm used is not HS256")


async def test_rule9a_alg_none_built_with_pyjwt():
    raw = jwt.encode(PAYLOAD, None, algorithm="none")
    await expect_error(f"Bearer {raw}", 403, "Invalid token: algorithm used is not HS256")


# ------------------------------------------------------------------------------------------------
# rule 9b: clock


@pytest.mark.parametrize("offset", [-30, -29, 0, 29, 30])
async def test_rule9b_iat_within_30_seconds_inclusive(offset):
    await check(f"Bearer {token(iat=NOW + offset)}")


@pytest.mark.parametrize("offset", [-31, 31, -3600, 86400])
async def test_rule9b_iat_outside_30_seconds(offset):
    await expect_error(f"Bearer {token(iat=NOW + offset)}", 403, CLOCK)


async def test_rule9b_fractional_now_uses_whole_seconds():
    await check(f"Bearer {token(iat=NOW - 30)}", now=NOW + 0.999)
    await check(f"Bearer {token(iat=NOW + 30)}", now=NOW + 0.001)
    await expect_error(f"Bearer {token(iat=NOW + 31)}", 403, CLOCK, now=NOW + 0.999)


@pytest.mark.parametrize("iat", ["yesterday", None, [NOW], {"t": NOW}])
async def test_rule9b_iat_not_an_integer(iat):
    await expect_error(f"Bearer {token(iat=iat)}", 403, CLOCK)


async def test_rule9b_clock_checked_after_signature():
    # an old token signed with a wrong key: "API key not found", not the clock message
    await expect_error(
        f"Bearer {token(iat=NOW - 3600, secret=OTHER_SECRET)}", 403, "Invalid token: API key not found"
    )


# ------------------------------------------------------------------------------------------------
# rule 9c / 10: next key, not found


async def test_rule10_wrong_secret():
    await expect_error(f"Bearer {token(secret=OTHER_SECRET)}", 403, "Invalid token: API key not found")


async def test_rule9c_no_iat_moves_on_then_not_found():
    t = forge({"alg": "HS256", "typ": "JWT"}, {"iss": str(SERVICE_ID)})
    await expect_error(f"Bearer {t}", 403, "Invalid token: API key not found", Lookup(service(key(), key())))


async def test_rule9c_tampered_payload_is_a_signature_mismatch():
    good = token()
    header, _, sig = good.split(".")
    tampered = f"{header}.{b64(json.dumps({'iss': str(SERVICE_ID), 'iat': NOW + 1}).encode())}.{sig}"
    await expect_error(f"Bearer {tampered}", 403, "Invalid token: API key not found")


async def test_rule10_key_revoked_over_seven_days_ago_is_not_found():
    old = key(SECRET, expiry=NOW_DT - timedelta(days=8))
    other = key(OTHER_SECRET)
    await expect_error(
        f"Bearer {token()}", 403, "Invalid token: API key not found", Lookup(service(old, other))
    )


# ------------------------------------------------------------------------------------------------
# rule 9d: other JWT problems


@pytest.mark.parametrize(
    "extra",
    [
        {"aud": "someone"},
        {"aud": ["a", "b"]},
        {"exp": NOW - 60},
        {"exp": "soon"},
        {"nbf": NOW + 3600},
        {"nbf": "later"},
        {"sub": 42},
        {"jti": 7},
    ],
)
async def test_rule9d_other_jwt_problems(extra):
    await expect_error(f"Bearer {token(**extra)}", 403, LONG_MESSAGE)


async def test_rule9d_harmless_registered_claims_pass():
    await check(f"Bearer {token(exp=NOW + 600, nbf=NOW - 5, sub='me', jti='abc')}")


async def test_rule9d_only_when_the_signature_matches():
    await expect_error(
        f"Bearer {token(secret=OTHER_SECRET, aud='x')}", 403, "Invalid token: API key not found"
    )


# ------------------------------------------------------------------------------------------------
# rule 9e: revoked


async def test_rule9e_key_revoked_less_than_seven_days_ago():
    revoked = key(expiry=NOW_DT - timedelta(days=2))
    await expect_error(f"Bearer {token()}", 403, "Invalid token: API key revoked", Lookup(service(revoked)))


async def test_rule9e_revocation_boundary():
    just_inside = key(expiry=NOW_DT - timedelta(days=7) + timedelta(seconds=1))
    await expect_error(
        f"Bearer {token()}", 403, "Invalid token: API key revoked", Lookup(service(just_inside))
    )
    just_outside = key(expiry=NOW_DT - timedelta(days=7) - timedelta(seconds=1))
    await expect_error(
        f"Bearer {token()}", 403, "Invalid token: service has no API keys", Lookup(service(just_outside))
    )


async def test_rule9e_naive_expiry_is_taken_as_utc():
    revoked = key(expiry=(NOW_DT - timedelta(days=1)).replace(tzinfo=None))
    await expect_error(f"Bearer {token()}", 403, "Invalid token: API key revoked", Lookup(service(revoked)))


async def test_rule9e_revoked_key_checks_clock_first():
    revoked = key(expiry=NOW_DT - timedelta(days=1))
    await expect_error(f"Bearer {token(iat=NOW - 100)}", 403, CLOCK, Lookup(service(revoked)))


async def test_auth_error_carries_status_and_message():
    err = AuthError("Invalid token: service not found", 403)
    assert str(err) == "Invalid token: service not found"
    assert (err.status_code, err.message) == (403, "Invalid token: service not found")


# ------------------------------------------------------------------------------------------------
# admin (admin-api.md §2)

ADMIN = "notify-admin"
ADMIN_SECRETS = ["old-admin-secret", "new-admin-secret"]


def admin(header: str | None, *, secrets=ADMIN_SECRETS, now: float = NOW) -> None:
    authenticate_admin(header, client_id=ADMIN, secrets=secrets, now=now)


def admin_error(header: str | None, status: int, message: str, **kwargs) -> None:
    with pytest.raises(AuthError) as info:
        admin(header, **kwargs)
    assert (info.value.status_code, info.value.message) == (status, message)


def test_admin_accepts_any_configured_secret():
    for secret in ADMIN_SECRETS:
        assert admin(f"Bearer {create_jwt(ADMIN, secret, iat=NOW)}") is None


def test_admin_accepts_real_client_token():
    long_secret = "a-rotated-admin-secret-of-at-least-32-bytes"
    authenticate_admin(
        f"Bearer {create_jwt_token(long_secret, ADMIN)}",
        client_id=ADMIN,
        secrets=[*ADMIN_SECRETS, long_secret],
    )


def test_admin_missing_header():
    admin_error(None, 401, "Unauthorized: authentication token must be provided")


def test_admin_not_bearer():
    admin_error("Basic abc", 401, "Unauthorized: authentication bearer scheme must be used")


def test_admin_undecodable():
    admin_error("Bearer nonsense", 403, LONG_MESSAGE)


def test_admin_no_iss():
    t = forge({"alg": "HS256", "typ": "JWT"}, {"iat": NOW}, "new-admin-secret")
    admin_error(f"Bearer {t}", 403, "Invalid token: iss field not provided")


def test_admin_rejects_service_token():
    admin_error(f"Bearer {token()}", 401, "Unauthorized: not allowed to perform this action")


def test_admin_rejects_other_internal_client():
    t = create_jwt("notify-functional-tests", "new-admin-secret", iat=NOW)
    admin_error(f"Bearer {t}", 401, "Unauthorized: not allowed to perform this action")


def test_admin_wrong_secret():
    admin_error(f"Bearer {create_jwt(ADMIN, 'guess', iat=NOW)}", 403, "Invalid token: API key not found")


def test_admin_no_secrets_configured():
    admin_error(
        f"Bearer {create_jwt(ADMIN, 'x', iat=NOW)}", 403, "Invalid token: API key not found", secrets=[]
    )


@pytest.mark.parametrize("offset", [-31, 31])
def test_admin_clock(offset):
    admin_error(f"Bearer {create_jwt(ADMIN, 'new-admin-secret', iat=NOW + offset)}", 403, CLOCK)


@pytest.mark.parametrize("offset", [-30, 30])
def test_admin_clock_boundary_passes(offset):
    admin(f"Bearer {create_jwt(ADMIN, 'new-admin-secret', iat=NOW + offset)}")


def test_admin_algorithm():
    t = forge({"alg": "HS512", "typ": "JWT"}, {"iss": ADMIN, "iat": NOW}, "new-admin-secret", hashlib.sha512)
    admin_error(f"Bearer {t}", 403, "Invalid token: algorithm used is not HS256")


# ------------------------------------------------------------------------------------------------
# a cached record that predates the key


class StaleThenFresh(Lookup):
    """Answers the first (cached) lookup with ``stale`` and fresh lookups with ``fresh``."""

    def __init__(self, stale: ServiceAuthRecord | None, fresh: ServiceAuthRecord | None) -> None:
        super().__init__()
        self.stale, self.fresh = stale, fresh

    async def __call__(self, service_id: uuid.UUID, *, fresh: bool = False) -> ServiceAuthRecord | None:
        await super().__call__(service_id, fresh=fresh)
        return self.fresh if fresh else self.stale


async def test_key_created_after_the_cached_read_is_found_by_one_fresh_lookup():
    new = key(SECRET)
    lookup = StaleThenFresh(service(key(OTHER_SECRET)), service(key(OTHER_SECRET), new))
    _, matched = await check(f"Bearer {token()}", lookup)
    assert matched == new
    assert lookup.calls == [SERVICE_ID, SERVICE_ID] and lookup.fresh_calls == 1


@pytest.mark.parametrize(
    ("stale", "message"),
    [(None, "Invalid token: service not found"), (service(), "Invalid token: service has no API keys")],
)
async def test_service_or_first_key_created_after_the_cached_read(stale, message):
    lookup = StaleThenFresh(stale, service(key()))
    await check(f"Bearer {token()}", lookup)
    assert lookup.fresh_calls == 1
    await expect_error(f"Bearer {token()}", 403, message, StaleThenFresh(stale, stale))


async def test_unknown_key_is_refused_after_exactly_one_fresh_lookup():
    lookup = Lookup(service(key(OTHER_SECRET)))
    await expect_error(f"Bearer {token()}", 403, "Invalid token: API key not found", lookup)
    assert lookup.calls == [SERVICE_ID, SERVICE_ID] and lookup.fresh_calls == 1


@pytest.mark.parametrize("outcome", ["valid", "revoked", "archived", "clock"])
async def test_answers_the_cache_can_give_alone_need_no_fresh_lookup(outcome):
    revoked = key(expiry=NOW_DT - timedelta(hours=1))
    lookup = {
        "valid": Lookup(service(key())),
        "revoked": Lookup(service(revoked)),
        "archived": Lookup(service(key(), active=False)),
        "clock": Lookup(service(key())),
    }[outcome]
    header = f"Bearer {token(iat=NOW - 3600)}" if outcome == "clock" else f"Bearer {token()}"
    try:
        await check(header, lookup)
    except AuthError:
        assert outcome != "valid"
    else:
        assert outcome == "valid"
    assert lookup.fresh_calls == 0
