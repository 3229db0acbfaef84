"""Types and HTTP plumbing shared by the SMS provider adapters.

Nothing here logs or puts into exception messages a phone number or message text: errors carry the provider
name, the operation, an HTTP status and the provider's own short error description only.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable
from urllib.parse import parse_qsl, quote
from zoneinfo import ZoneInfo

import aiohttp
import orjson
from notify_platform.metrics import ProviderCallMetrics, provider_outcome

# Sized for ~200 concurrent sends per provider; connections are kept alive between messages, and dropped after a
# few idle seconds (before typical server idle timeouts, so a reused connection is rarely dead).
MAX_CONNECTIONS = 200
KEEPALIVE_EXPIRY_SECONDS = 4.0

# Simulator-backed lookup of a message by our client reference (the notification id). Both protocols share it.
LOOKUP_PATH = "/messages/by-reference/{reference}"

DELIVERED = "delivered"
PENDING = "pending"
TEMPORARY_FAILURE = "temporary-failure"
PERMANENT_FAILURE = "permanent-failure"
TECHNICAL_FAILURE = "technical-failure"


class ProviderError(Exception):
    """A send or lookup the provider did not accept.

    ``retryable`` is True for timeouts, connection errors, 5xx, 408 and 429 (the message may go through on a
    later attempt) and False for other 4xx refusals (bad credentials, malformed request) which will not.
    ``timed_out``: the provider did not answer in time.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        provider: str = "",
        status_code: int | None = None,
        timed_out: bool = False,
    ):
        super().__init__(message)
        self.retryable = retryable
        self.provider = provider
        self.status_code = status_code
        self.timed_out = timed_out

    @property
    def outcome(self) -> str:
        """How ``notify_provider_calls_total`` counts it."""
        return provider_outcome(retryable=self.retryable, timed_out=self.timed_out)

    def __repr__(self) -> str:
        return (
            f"ProviderError({str(self)!r}, retryable={self.retryable}, provider={self.provider!r}, "
            f"status_code={self.status_code})"
        )


@dataclass(frozen=True)
class Receipt:
    notification_id: str
    provider_reference: str | None
    status: str
    detail: str | None = None


@dataclass(frozen=True)
class InboundText:
    """A text someone sent to one of our inbound numbers, as the provider reported it (numbers as sent)."""

    provider_reference: str | None
    source_number: str
    destination_number: str
    message: str
    received_at: datetime | None  # UTC; None when the provider gave no time


@runtime_checkable
class SmsProvider(Protocol):
    name: str

    async def send(
        self, *, to: str, content: str, sender: str, notification_id: str, international: bool
    ) -> str: ...

    async def lookup(self, notification_id: str) -> str | None: ...

    def parse_receipt(self, body: bytes, content_type: str) -> Receipt: ...

    def receipt_authorised(self, headers: Mapping[str, str]) -> bool: ...

    def parse_inbound(self, body: bytes, content_type: str) -> InboundText: ...

    async def aclose(self) -> None: ...


def new_http_session(timeout: float) -> aiohttp.ClientSession:
    """The one session a provider adapter keeps for its whole life (connection pool shared by every send).

    ``timeout`` bounds each request as a whole (waiting for a connection, connecting, sending, reading the
    answer). Must be called with the event loop running: the session is bound to it.
    """
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=MAX_CONNECTIONS, keepalive_timeout=KEEPALIVE_EXPIRY_SECONDS),
        timeout=aiohttp.ClientTimeout(total=timeout),
        cookie_jar=aiohttp.DummyCookieJar(),
        trust_env=False,
    )


@dataclass(frozen=True, slots=True)
class HttpReply:
    """A provider's answer, read in full."""

    status_code: int
    content: bytes

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300


def is_retryable_status(status_code: int) -> bool:
    return status_code >= 500 or status_code in (408, 429)


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup that works for plain dicts as well as Starlette/multidict header objects."""
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, candidate in headers.items():
        if key.lower() == lowered:
            return candidate
    return None


def parse_basic_auth(value: str | None) -> tuple[str, str] | None:
    if not value:
        return None
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "basic" or not token:
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    username, sep, password = decoded.partition(":")
    if not sep:
        return None
    return username, password


def credentials_match(given: tuple[str, str] | None, username: str, password: str) -> bool:
    """Constant-time comparison of both parts (both are always compared, so timing does not reveal which failed).

    Empty expected credentials never match: an unconfigured receiver fails closed.
    """
    if not username or not password:
        return False
    given_user, given_password = given if given is not None else ("", "")
    user_ok = hmac.compare_digest(given_user.encode(), username.encode())
    password_ok = hmac.compare_digest(given_password.encode(), password.encode())
    return given is not None and user_ok and password_ok


def secret_matches(given: str | None, expected: str) -> bool:
    """Constant-time check of a single secret (an API key); an empty expected secret never matches."""
    if not expected:
        return False
    return hmac.compare_digest((given or "").encode(), expected.encode()) and given is not None


def lookup_url(base_url: str, reference: str) -> str:
    return base_url + LOOKUP_PATH.format(reference=quote(reference, safe=""))


def normalise_msisdn(to: str) -> str:
    """Digits only, international format without the plus (``447700900123``); separators are dropped."""
    return "".join(ch for ch in to if ch.isdigit())


class HttpProvider:
    """Connection handling and error classification common to both aggregator protocols.

    The adapter's ``aiohttp.ClientSession`` is made on the first request (inside the running event loop, so the
    adapter itself can be built anywhere) and closed by ``aclose``. A session passed as ``http_client`` is used
    as is (its own timeout and connection limits apply) and left open by ``aclose``.

    ``send`` counts each send in ``notify_provider_calls_total`` (by outcome: ok, or the ``ProviderError``'s) and
    times it in ``notify_provider_call_seconds``; a protocol implements ``_send``.
    """

    name: str = ""

    def __init__(
        self,
        *,
        base_url: str,
        username: str,
        password: str,
        receipt_username: str,
        receipt_password: str,
        timeout: float = 10.0,
        http_client: aiohttp.ClientSession | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._username = username
        self._password = password
        self._receipt_username = receipt_username
        self._receipt_password = receipt_password
        self._timeout = timeout
        self._owns_session = http_client is None
        self._session: aiohttp.ClientSession | None = http_client
        self._closed = False
        self._metrics = ProviderCallMetrics(self.name)

    async def send(
        self, *, to: str, content: str, sender: str, notification_id: str, international: bool
    ) -> str:
        with self._metrics.call():
            return await self._send(
                to=to,
                content=content,
                sender=sender,
                notification_id=notification_id,
                international=international,
            )

    async def _send(
        self, *, to: str, content: str, sender: str, notification_id: str, international: bool
    ) -> str:
        raise NotImplementedError

    def _session_for(self, operation: str) -> aiohttp.ClientSession:
        if self._closed:
            # Nothing was sent, so the message can safely be tried again (by a process whose adapter is open).
            raise ProviderError(
                f"{self.name} {operation}: adapter is closed", retryable=True, provider=self.name
            )
        session = self._session
        if session is None:
            session = self._session = new_http_session(self._timeout)
        return session

    async def _request(
        self, operation: str, method: str, url: str, *, headers: Mapping[str, str], data: bytes | None = None
    ) -> HttpReply:
        session = self._session_for(operation)
        try:
            async with session.request(
                method, url, data=data, headers=headers, allow_redirects=False
            ) as response:
                return HttpReply(response.status, await response.read())
        except TimeoutError as exc:  # includes aiohttp's ServerTimeoutError / ConnectionTimeoutError
            raise ProviderError(
                f"{self.name} {operation}: timed out ({type(exc).__name__})",
                retryable=True,
                provider=self.name,
                timed_out=True,
            ) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise ProviderError(
                f"{self.name} {operation}: connection failed ({type(exc).__name__})",
                retryable=True,
                provider=self.name,
            ) from None

    def _refusal(self, operation: str, response: HttpReply, description: str | None = None) -> ProviderError:
        status = response.status_code
        text = f"{self.name} {operation}: HTTP {status}"
        if description:
            text += f" ({description[:200]})"
        return ProviderError(
            text, retryable=is_retryable_status(status), provider=self.name, status_code=status
        )

    async def lookup(self, notification_id: str) -> str | None:
        response = await self._request(
            "lookup", "GET", lookup_url(self.base_url, notification_id), headers=self._lookup_headers()
        )
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise self._refusal("lookup", response)
        try:
            data = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            data = None
        message_id = data.get("message_id") if isinstance(data, dict) else None
        if not isinstance(message_id, str) or not message_id:
            raise ProviderError(
                f"{self.name} lookup: malformed response", retryable=True, provider=self.name, status_code=200
            )
        return message_id

    def _lookup_headers(self) -> dict[str, str]:
        raise NotImplementedError

    def receipt_authorised(self, headers: Mapping[str, str]) -> bool:
        given = parse_basic_auth(header_value(headers, "authorization"))
        return credentials_match(given, self._receipt_username, self._receipt_password)

    async def aclose(self) -> None:
        self._closed = True
        session, self._session = self._session, None
        if session is not None and self._owns_session:
            await session.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r} base_url={self.base_url!r}>"


def decode_fields(body: bytes, content_type: str, *, default: str, what: str = "receipt") -> dict[str, str]:
    """A receipt (or inbound text: ``what``) body as a flat ``{field: text}`` dict, JSON object or form-encoded.

    The declared content type decides; with none (or an unrecognised one) ``default`` ("json" or "form") does.
    Raises ValueError on a body that is not what it claims to be.
    """
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "application/json" or kind.endswith("+json"):
        style = "json"
    elif kind == "application/x-www-form-urlencoded":
        style = "form"
    else:
        style = default
    if style == "json":
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"{what} body is not valid JSON") from exc
        if not isinstance(data, dict):
            raise ValueError(f"{what} body is not a JSON object")
        return {
            str(k): v if isinstance(v, str) else ("" if v is None else str(v))
            for k, v in data.items()
            if not isinstance(v, (dict, list))
        }
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{what} body is not UTF-8") from exc
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text))
    except ValueError as exc:
        raise ValueError(f"{what} body is not form-encoded") from exc
    return dict(pairs)


LONDON = ZoneInfo("Europe/London")
PROVIDER_TIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S.%f",
)


def london_time(text: str) -> datetime:
    """A provider's ``YYYY-MM-DD HH:MM:SS`` (UK local time, as both aggregators send it) in UTC.

    Raises ValueError on anything else."""
    value = text.strip()
    for fmt in PROVIDER_TIME_FORMATS:
        try:
            parsed = datetime.strptime(value, fmt)
        except ValueError:
            continue
        return parsed.replace(tzinfo=LONDON).astimezone(UTC)
    raise ValueError("time is not YYYY-MM-DD HH:MM:SS")


def required_field(fields: Mapping[str, str], name: str, what: str) -> str:
    value = (fields.get(name) or "").strip()
    if not value:
        raise ValueError(f"{what} has no {name}")
    return value
