"""JWT authentication for the public v2 API (service API keys) and for admin clients.

Tokens follow the Notify scheme: ``Authorization: Bearer <JWT>``, header ``{"alg": "HS256", "typ": "JWT"}``,
claims ``iss`` (service id or admin client id) and ``iat`` (epoch seconds), signed with HMAC-SHA256 keyed by the
UTF-8 text of the secret. The checks and their messages follow public-api.md §2.2 and admin-api.md §2 exactly.

The token is parsed once (PyJWT, unverified); each candidate key then costs one HMAC over the signing input.
"""

from __future__ import annotations

import time
import uuid
import warnings
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import jwt
from jwt.algorithms import HMACAlgorithm

__all__ = [
    "ALGORITHM",
    "CLOCK_SKEW_SECONDS",
    "REVOKED_KEY_GRACE",
    "ApiKeyRecord",
    "AuthError",
    "ServiceAuthRecord",
    "ServiceLookup",
    "authenticate_admin",
    "authenticate_api_key",
    "create_jwt",
]

ALGORITHM = "HS256"
CLOCK_SKEW_SECONDS = 30
# A revoked key keeps "existing" (and answers "API key revoked") for this long after its expiry date.
REVOKED_KEY_GRACE = timedelta(days=7)

MSG_NO_TOKEN = "Unauthorized: authentication token must be provided"
MSG_NOT_BEARER = "Unauthorized: authentication bearer scheme must be used"
MSG_BAD_TOKEN = (
    "Invalid token: make sure your API token matches the example at "
    "https://docs.notifications.service.gov.uk/rest-api.html#authorisation-header"
)
MSG_NO_ISS = "Invalid token: iss field not provided"
MSG_ISS_NOT_UUID = "Invalid token: service id is not the right data type"
MSG_SERVICE_NOT_FOUND = "Invalid token: service not found"
MSG_NO_KEYS = "Invalid token: service has no API keys"
MSG_ARCHIVED = "Invalid token: service is archived"
MSG_ALGORITHM = "Invalid token: algorithm used is not HS256"
MSG_CLOCK = "Error: Your system clock must be accurate to within 30 seconds"
MSG_REVOKED = "Invalid token: API key revoked"
MSG_KEY_NOT_FOUND = "Invalid token: API key not found"
MSG_ADMIN_WRONG_CLIENT = "Unauthorized: not allowed to perform this action"

_HS256 = HMACAlgorithm(HMACAlgorithm.SHA256)


@dataclass(frozen=True)
class ApiKeyRecord:
    id: uuid.UUID
    secret: str  # the 36-char UUID text used as the HMAC key
    key_type: str  # "normal" | "team" | "test"
    expiry_date: datetime | None  # revocation time (aware, UTC) or None


@dataclass(frozen=True)
class ServiceAuthRecord:
    id: uuid.UUID
    active: bool
    api_keys: tuple[ApiKeyRecord, ...]  # every key of the service, revoked ones included


class AuthError(Exception):
    """An authentication failure; ``status_code`` is 401 or 403 and ``message`` the exact Notify text."""

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code

    def __repr__(self) -> str:
        return f"AuthError({self.message!r}, {self.status_code})"


class ServiceLookup(Protocol):
    """Finds a service's auth record. ``fresh=True`` asks past any cache: the caller only does so when the
    cached record cannot vouch for the token (a key or service created a moment ago), and the lookup may
    throttle how often that really reaches the source."""

    def __call__(
        self, service_id: uuid.UUID, *, fresh: bool = False
    ) -> Awaitable[ServiceAuthRecord | None]: ...


# --------------------------------------------------------------------------------------------------
# token parsing


@dataclass(frozen=True)
class _ParsedToken:
    header: dict[str, Any]
    payload: dict[str, Any]
    signing_input: bytes
    signature: bytes


def _bearer_token(authorization: str | None) -> str:
    """Rules 1 and 2: header present and non-empty; first 7 characters title-cased are ``Bearer ``."""
    if not authorization:
        raise AuthError(MSG_NO_TOKEN, 401)
    if authorization[:7].title() != "Bearer ":
        raise AuthError(MSG_NOT_BEARER, 401)
    return authorization[7:]


def _parse(token: str) -> _ParsedToken:
    """Rules 3 and 4: decode without verifying (once); the payload must carry ``iss``."""
    try:
        decoded = jwt.decode_complete(token, options={"verify_signature": False})
        signing_input = token.encode("utf-8").rsplit(b".", 1)[0]
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise AuthError(MSG_BAD_TOKEN, 403) from exc
    payload = decoded["payload"]
    if not isinstance(payload, dict):  # PyJWT already refuses this; belt and braces
        raise AuthError(MSG_BAD_TOKEN, 403)
    if "iss" not in payload:
        raise AuthError(MSG_NO_ISS, 403)
    return _ParsedToken(decoded["header"], payload, signing_input, decoded["signature"])


def _as_int(value: Any) -> int:
    # The same coercion PyJWT applies to numeric date claims (floats truncate, numeric strings parse).
    return int(value)


class _NextKey(Exception):
    """The token was not signed with this key (or has no ``iat``): try the next one."""


def _check_with_secret(token: _ParsedToken, secret: str, now: float) -> None:
    """Rule 9b-9d for one key. Returns normally when signature and claims are acceptable."""
    if not _HS256.verify(token.signing_input, secret.encode("utf-8"), token.signature):
        raise _NextKey
    payload = token.payload
    leeway = CLOCK_SKEW_SECONDS

    # Registered date claims, in the order PyJWT checks them (iat, nbf, exp), with a 30 s leeway.
    if "iat" in payload:
        try:
            iat = _as_int(payload["iat"])
        except (ValueError, TypeError, OverflowError) as exc:
            raise AuthError(MSG_CLOCK, 403) from exc
        if iat > now + leeway:
            raise AuthError(MSG_CLOCK, 403)
    if "nbf" in payload:
        try:
            nbf = _as_int(payload["nbf"])
        except (ValueError, TypeError, OverflowError) as exc:
            raise AuthError(MSG_BAD_TOKEN, 403) from exc
        if nbf > now + leeway:
            raise AuthError(MSG_BAD_TOKEN, 403)
    if "exp" in payload:
        try:
            exp = _as_int(payload["exp"])
        except (ValueError, TypeError, OverflowError) as exc:
            raise AuthError(MSG_BAD_TOKEN, 403) from exc
        if exp <= now - leeway:
            raise AuthError(MSG_BAD_TOKEN, 403)
    # No audience is expected, so any non-empty aud is refused; sub and jti must be strings if present.
    if payload.get("aud"):
        raise AuthError(MSG_BAD_TOKEN, 403)
    if "sub" in payload and not isinstance(payload["sub"], str):
        raise AuthError(MSG_BAD_TOKEN, 403)
    if "jti" in payload and not isinstance(payload["jti"], str):
        raise AuthError(MSG_BAD_TOKEN, 403)

    # Notify's own checks: iat is required (absent: treated like a signature mismatch), ±30 s inclusive.
    if "iat" not in payload:
        raise _NextKey
    now_seconds = int(now)
    iat = _as_int(payload["iat"])
    if now_seconds > iat + leeway or iat > now_seconds + leeway:
        raise AuthError(MSG_CLOCK, 403)


def _check_algorithm(token: _ParsedToken) -> None:
    alg = token.header.get("alg")
    if not isinstance(alg, str) or alg != ALGORITHM:
        raise AuthError(MSG_ALGORITHM, 403)


def _now(now: float | None) -> float:
    return time.time() if now is None else float(now)


# --------------------------------------------------------------------------------------------------
# public API


async def authenticate_api_key(
    authorization: str | None, lookup: ServiceLookup, *, now: float | None = None
) -> tuple[ServiceAuthRecord, ApiKeyRecord]:
    """Authenticate a v2 request. Returns the service and the key that signed the token.

    Raises ``AuthError`` with the status and message of the first failing rule of public-api.md §2.2.
    """
    current = _now(now)
    token = _parse(_bearer_token(authorization))

    try:
        service_id = uuid.UUID(token.payload["iss"])
    except (TypeError, ValueError, AttributeError) as exc:
        raise AuthError(MSG_ISS_NOT_UUID, 403) from exc

    service = await lookup(service_id)
    try:
        return _match(token, service, current)
    except _MaybeStale:
        # The cached record may predate a key (or service) created a moment ago: ask once more, fresh.
        # Revocation needs no such retry: the change event drops the cache, and a stale revoked key is the
        # only thing a fresh read could refuse that the cached one accepts.
        return _match(token, await lookup(service_id, fresh=True), current, final=True)


class _MaybeStale(Exception):
    pass


def _match(
    token: _ParsedToken, service: ServiceAuthRecord | None, current: float, *, final: bool = False
) -> tuple[ServiceAuthRecord, ApiKeyRecord]:
    if service is None:
        if final:
            raise AuthError(MSG_SERVICE_NOT_FOUND, 403)
        raise _MaybeStale

    cutoff = datetime.fromtimestamp(current, UTC) - REVOKED_KEY_GRACE
    keys = [key for key in service.api_keys if key.expiry_date is None or _aware(key.expiry_date) > cutoff]
    if not keys:
        if final:
            raise AuthError(MSG_NO_KEYS, 403)
        raise _MaybeStale
    if not service.active:
        raise AuthError(MSG_ARCHIVED, 403)

    _check_algorithm(token)
    for key in keys:
        try:
            _check_with_secret(token, key.secret, current)
        except _NextKey:
            continue
        if key.expiry_date is not None:
            raise AuthError(MSG_REVOKED, 403)
        return service, key
    if final:
        raise AuthError(MSG_KEY_NOT_FOUND, 403)
    raise _MaybeStale


def authenticate_admin(
    authorization: str | None, *, client_id: str, secrets: Sequence[str], now: float | None = None
) -> None:
    """Authenticate an admin (internal client) request per admin-api.md §2. Raises ``AuthError``."""
    current = _now(now)
    token = _parse(_bearer_token(authorization))
    if token.payload["iss"] != client_id:
        raise AuthError(MSG_ADMIN_WRONG_CLIENT, 401)
    if secrets:
        _check_algorithm(token)
    for secret in secrets:
        try:
            _check_with_secret(token, secret, current)
        except _NextKey:
            continue
        return
    raise AuthError(MSG_KEY_NOT_FOUND, 403)


def create_jwt(issuer: str, secret: str, *, iat: int | None = None) -> str:
    """An HS256 token ``{iss, iat}`` as the Notify clients make it (``iat`` defaults to now)."""
    claims = {"iss": issuer, "iat": int(time.time()) if iat is None else iat}
    with warnings.catch_warnings():
        # Admin secrets may be shorter than RFC 7518 recommends; Notify accepts them, so do we.
        warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)
        return jwt.encode(claims, secret, algorithm=ALGORITHM, headers={"typ": "JWT"})


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
