"""An in-memory SMS aggregator speaking the "mmg" or "firetext" protocol (see ``providers.wire``).

Sends are checked (401 bad credentials, 400 malformed), counted by client reference and answered with a message
id; a receipt chosen by the recipient's number is POSTed to ``receipt_url`` after ``receipt_delay_ms``:
ending 7700900003 → temporary failure (firetext: "pending" first), ending 7700900002 → permanent failure,
anything else → delivered. Logs carry ids and counts only, never numbers or message text. ``PUT /control``
changes the injected error rate, the send latency and the receipt delay while it runs (failover tests use it).
``POST /inbound`` ({"source", "destination", "message"}) makes the simulator send a received text to
``inbound_url`` in its provider's format, as if someone had texted one of the platform's inbound numbers.

The send endpoint is the hot path (2,000+/s on one core), so it is served as plain ASGI ahead of FastAPI's
routing and dependency machinery; everything else (lookup, stats, health, lifespan) is ordinary FastAPI.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote_plus, urlencode

import aiohttp
import orjson
import structlog
from fastapi import FastAPI, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..providers.base import (
    DELIVERED,
    LONDON,
    PERMANENT_FAILURE,
    TEMPORARY_FAILURE,
    credentials_match,
    parse_basic_auth,
    secret_matches,
)
from ..providers.wire import (
    FIRETEXT_API_KEY_HEADER,
    FIRETEXT_DECLINED,
    FIRETEXT_DELIVERED,
    FIRETEXT_DELIVERED_CODE,
    FIRETEXT_PENDING,
    FIRETEXT_PERMANENT_CODE,
    FIRETEXT_SEND_PATH,
    FIRETEXT_TEMPORARY_CODE,
    MMG_DELIVERED,
    MMG_PERMANENT_FAILURE,
    MMG_SEND_PATH,
    MMG_TEMPORARY_FAILURE,
)
from .receipts import PendingReceipt, receipt_poster
from .settings import SimulatorSettings

log = structlog.get_logger("notify_delivery_sms.simulator")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

TEMPORARY_FAILURE_SUFFIX = "7700900003"
PERMANENT_FAILURE_SUFFIX = "7700900002"
MAX_REFERENCE_LENGTH = 255
MAX_MESSAGE_LENGTH = 918 * 4  # generous: the simulator checks shape, not billing
MAX_BODY_BYTES = 64 * 1024

_JSON_HEADERS = [(b"content-type", b"application/json")]


def outcome_for(msisdn: str) -> str:
    """The final Notify status the simulator reports for a recipient (test-number conventions)."""
    if msisdn.endswith(TEMPORARY_FAILURE_SUFFIX):
        return TEMPORARY_FAILURE
    if msisdn.endswith(PERMANENT_FAILURE_SUFFIX):
        return PERMANENT_FAILURE
    return DELIVERED


def _msisdn_digits(msisdn: object) -> str | None:
    """The number's digits (an optional leading + dropped), or None unless it is 8-15 digits."""
    if not isinstance(msisdn, str):
        return None
    digits = msisdn[1:] if msisdn.startswith("+") else msisdn
    if 8 <= len(digits) <= 15 and digits.isascii() and digits.isdigit():
        return digits
    return None


def _valid_reference(reference: object) -> bool:
    return isinstance(reference, str) and 0 < len(reference.strip()) <= MAX_REFERENCE_LENGTH


def _valid_message(message: object) -> bool:
    return isinstance(message, str) and 0 < len(message) <= MAX_MESSAGE_LENGTH


_stamp_cache: tuple[int, str] = (0, "")


def _timestamp() -> str:
    """Receipt time, UTC, to the second (formatted once a second, not once a receipt)."""
    global _stamp_cache
    now = int(time.time())
    if _stamp_cache[0] != now:
        _stamp_cache = (now, time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now)))
    return _stamp_cache[1]


_MMG_CODES = {
    DELIVERED: MMG_DELIVERED,
    TEMPORARY_FAILURE: MMG_TEMPORARY_FAILURE,
    PERMANENT_FAILURE: MMG_PERMANENT_FAILURE,
}


def mmg_receipt(reference: str, message_id: str, outcome: str) -> PendingReceipt:
    body = orjson.dumps(
        {
            "reference": message_id,
            "CID": reference,
            "status": str(_MMG_CODES[outcome]),
            "substatus": "0",
            "deliverytime": _timestamp(),
        }
    )
    return PendingReceipt(key=reference, body=body, content_type="application/json")


def firetext_receipts(reference: str, message_id: str, outcome: str, with_pending: bool) -> PendingReceipt:
    """The receipt chain for one message (a temporary failure may be preceded by "pending")."""

    def one(status: str, code: str) -> PendingReceipt:
        fields = {"reference": reference, "messageId": message_id, "status": status, "code": code}
        fields["time"] = _timestamp()
        return PendingReceipt(
            key=reference,
            body=urlencode(fields).encode(),
            content_type="application/x-www-form-urlencoded",
        )

    if outcome == DELIVERED:
        return one(FIRETEXT_DELIVERED, FIRETEXT_DELIVERED_CODE)
    if outcome == PERMANENT_FAILURE:
        return one(FIRETEXT_DECLINED, FIRETEXT_PERMANENT_CODE)
    final = one(FIRETEXT_DECLINED, FIRETEXT_TEMPORARY_CODE)
    if not with_pending:
        return final
    pending = one(FIRETEXT_PENDING, "")
    pending.then = final
    return pending


def inbound_report(
    flavour: str, *, source: str, destination: str, message: str, reference: str, at: datetime
) -> tuple[bytes, str]:
    """(body, content type) of a received text as this provider POSTs it (see ``providers.wire``)."""
    local = at.astimezone(LONDON).strftime("%Y-%m-%d %H:%M:%S")
    if flavour == "mmg":
        body = {
            "ID": reference,
            "MSISDN": source,
            "Number": destination,
            "Message": quote_plus(message),
            "DateRecieved": quote_plus(local),
            "Channel": "SMS",
        }
        return orjson.dumps(body), "application/json"
    form = {"source": source, "destination": destination, "message": message, "time": local}
    return urlencode(form).encode(), "application/x-www-form-urlencoded"


class InboundRequest(BaseModel):
    """``POST /inbound``: a text from ``source`` to the inbound number ``destination`` (any format the provider
    might use, e.g. 447700900456). ``reference`` (mmg's message id) repeats an earlier report when given."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(min_length=1, max_length=30)
    destination: str = Field(min_length=1, max_length=30)
    message: str = Field(min_length=1, max_length=MAX_MESSAGE_LENGTH)
    reference: str | None = Field(default=None, min_length=1, max_length=MAX_REFERENCE_LENGTH)


class SimulatorState:
    """Everything the simulator remembers; in memory, single event loop, so no locking is needed."""

    def __init__(self, settings: SimulatorSettings) -> None:
        self.settings = settings
        self.rng = random.Random(settings.seed)
        self.receipts = receipt_poster(settings)
        # Behaviour a test may change while the simulator runs (``PUT /control``).
        self.error_rate = settings.error_rate
        self.latency_ms = settings.latency_ms
        # Message ids: a per-process random prefix and a counter (unique across restarts, cheap to make).
        self._id_prefix = os.urandom(6).hex()
        self._id_counter = itertools.count(1)
        self.reset()

    def reset(self) -> None:
        self.total = 0
        self.by_reference: dict[str, int] = {}
        self.message_ids: dict[str, str] = {}  # client reference -> first message id accepted for it
        self.refused = {"unauthorised": 0, "malformed": 0, "injected_errors": 0}
        self.inbound = {"sent": 0, "refused": 0}

    def control(self) -> dict[str, object]:
        return {
            "error_rate": self.error_rate,
            "latency_ms": self.latency_ms,
            "receipt_delay_ms": self.receipts.delay_ms,
        }

    def stats(self) -> dict[str, object]:
        return {
            "total": self.total,
            "by_reference": self.by_reference,
            "duplicates": [ref for ref, count in self.by_reference.items() if count > 1],
            "flavour": self.settings.flavour,
            "refused": self.refused,
            "receipts": self.receipts.counters.as_dict(),
            "inbound": self.inbound,
        }

    def next_message_id(self) -> str:
        return f"{self._id_prefix}{next(self._id_counter):010x}"

    # -- credentials ---------------------------------------------------------------------------------------

    def basic_auth_ok(self, header: str | None) -> bool:
        return credentials_match(parse_basic_auth(header), self.settings.username, self.settings.password)

    def api_key_ok(self, key: str | None) -> bool:
        return secret_matches(key, self.settings.password)

    # -- sends ---------------------------------------------------------------------------------------------

    def _accept(self, reference: str, digits: str) -> str:
        """Count the send, remember its message id and schedule its receipts."""
        message_id = self.next_message_id()
        self.total += 1
        self.by_reference[reference] = self.by_reference.get(reference, 0) + 1
        self.message_ids.setdefault(reference, message_id)
        if self.receipts.enabled:
            outcome = outcome_for(digits)
            if self.settings.flavour == "mmg":
                receipt = mmg_receipt(reference, message_id, outcome)
            else:
                receipt = firetext_receipts(reference, message_id, outcome, self.settings.firetext_pending)
            self.receipts.schedule(receipt)
        return message_id

    def _inject_error(self) -> bool:
        rate = self.error_rate
        return rate > 0 and self.rng.random() < rate

    def mmg_send(self, authorization: str | None, body: bytes) -> tuple[int, bytes, bool]:
        """(HTTP status, response body, accepted) for an mmg-protocol send."""
        if not self.basic_auth_ok(authorization):
            self.refused["unauthorised"] += 1
            return 401, orjson.dumps({"Error": 206, "Description": "Invalid credentials"}), False
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            data = None
        if not isinstance(data, dict):
            self.refused["malformed"] += 1
            return 400, orjson.dumps({"Error": 2, "Description": "Body is not a JSON object"}), False
        digits, message, reference = _msisdn_digits(data.get("MSISDN")), data.get("msg"), data.get("cid")
        if not (digits and _valid_message(message) and _valid_reference(reference)):
            self.refused["malformed"] += 1
            return 400, orjson.dumps({"Error": 2, "Description": "MSISDN, msg and cid are required"}), False
        if self._inject_error():
            self.refused["injected_errors"] += 1
            return 500, orjson.dumps({"Error": 500, "Description": "Simulated provider error"}), False
        message_id = self._accept(reference, digits)  # type: ignore[arg-type]
        return 200, orjson.dumps({"reference": message_id, "cid": reference}), True

    def firetext_send(self, body: bytes) -> tuple[int, bytes, bool]:
        """(HTTP status, response body, accepted) for a firetext-protocol send."""
        try:
            form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except (UnicodeDecodeError, ValueError):
            form = {}
        if not form:
            self.refused["malformed"] += 1
            return 400, orjson.dumps({"code": 2, "description": "Body is not form-encoded"}), False
        if not self.api_key_ok(form.get("apiKey")):
            self.refused["unauthorised"] += 1
            return 401, orjson.dumps({"code": 1, "description": "Authentication failed"}), False
        digits, message, reference = (
            _msisdn_digits(form.get("to")),
            form.get("message"),
            form.get("reference"),
        )
        if not (digits and _valid_message(message) and _valid_reference(reference)):
            self.refused["malformed"] += 1
            return (
                400,
                orjson.dumps({"code": 2, "description": "to, message and reference are required"}),
                False,
            )
        if self._inject_error():
            self.refused["injected_errors"] += 1
            return 500, orjson.dumps({"code": 9, "description": "Simulated provider error"}), False
        message_id = self._accept(reference, digits)  # type: ignore[arg-type]
        payload = {"code": 0, "description": "SMS successfully queued", "messageId": message_id}
        return 200, orjson.dumps(payload), True


class SimulatorApp(FastAPI):
    """FastAPI, with the provider's send endpoint answered as plain ASGI before routing."""

    simulator: SimulatorState
    send_path: str

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == self.send_path:
            await self._send_endpoint(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    async def _send_endpoint(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = self.simulator
        if scope["method"] != "POST":
            await _respond(send, 405, b'{"error": "method not allowed"}')
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                state.refused["malformed"] += 1
                await _respond(send, 413, b'{"error": "request too large"}')
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        if state.settings.flavour == "mmg":
            authorization = None
            for name, value in scope["headers"]:
                if name == b"authorization":
                    authorization = value.decode("latin-1")
                    break
            status, payload, accepted = state.mmg_send(authorization, body)
        else:
            status, payload, accepted = state.firetext_send(body)
        if accepted and state.latency_ms:
            # Accepted first, answered late: a client that times out here has still sent the message.
            await asyncio.sleep(state.latency_ms / 1000)
        await _respond(send, status, payload)


async def _respond(send: Send, status: int, payload: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*_JSON_HEADERS, (b"content-length", str(len(payload)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class SimulatorControl(BaseModel):
    """``PUT /control``: the settings to change (those left out stay as they are)."""

    model_config = ConfigDict(extra="forbid")

    error_rate: float | None = Field(default=None, ge=0.0, le=1.0)
    latency_ms: int | None = Field(default=None, ge=0)
    receipt_delay_ms: int | None = Field(default=None, ge=0)


def _json(status_code: int, payload: object) -> Response:
    return Response(content=orjson.dumps(payload), status_code=status_code, media_type="application/json")


def create_app(settings: SimulatorSettings) -> FastAPI:
    """The simulator app; receipt workers start with the app's lifespan (or on the first send)."""
    state = SimulatorState(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        state.receipts.start()
        log.info(
            "sms_simulator_started",
            flavour=settings.flavour,
            receipts=state.receipts.enabled,
            receipt_delay_ms=settings.receipt_delay_ms,
            latency_ms=settings.latency_ms,
            error_rate=settings.error_rate,
        )
        try:
            yield
        finally:
            await state.receipts.aclose()
            log.info("sms_simulator_stopped", total=state.total, receipts=state.receipts.counters.as_dict())

    app = SimulatorApp(
        title=f"SMS provider simulator ({settings.flavour})",
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.simulator = state
    app.send_path = MMG_SEND_PATH if settings.flavour == "mmg" else FIRETEXT_SEND_PATH
    app.state.simulator = state

    @app.get("/messages/by-reference/{reference}")
    async def by_reference(reference: str, request: Request) -> Response:
        if settings.flavour == "mmg":
            authorised = state.basic_auth_ok(request.headers.get("authorization"))
        else:
            authorised = state.api_key_ok(request.headers.get(FIRETEXT_API_KEY_HEADER))
        if not authorised:
            return _json(401, {"error": "unauthorised"})
        message_id = state.message_ids.get(reference)
        if message_id is None:
            return _json(404, {"error": "not found"})
        return _json(
            200, {"reference": reference, "message_id": message_id, "sends": state.by_reference[reference]}
        )

    @app.get("/stats")
    async def get_stats() -> Response:
        return _json(200, state.stats())

    @app.delete("/stats")
    async def reset_stats() -> Response:
        state.reset()
        log.info("sms_simulator_stats_reset")
        return _json(200, {"total": 0, "by_reference": {}, "duplicates": []})

    @app.get("/control")
    async def get_control() -> Response:
        return _json(200, state.control())

    @app.put("/control")
    async def set_control(request: Request) -> Response:
        """Change error injection, send latency or receipt delay while running (a failover test's lever)."""
        try:
            change = SimulatorControl.model_validate_json(await request.body())
        except ValidationError as exc:
            return _json(
                400,
                {
                    "error": "invalid control",
                    "detail": exc.errors(include_url=False, include_context=False, include_input=False),
                },
            )
        if change.error_rate is not None:
            state.error_rate = change.error_rate
        if change.latency_ms is not None:
            state.latency_ms = change.latency_ms
        if change.receipt_delay_ms is not None:
            state.receipts.delay_ms = change.receipt_delay_ms
        log.info("sms_simulator_control_changed", **state.control())
        return _json(200, state.control())

    @app.post("/inbound")
    async def send_inbound(request: Request) -> Response:
        """Send a received text to the platform now, in this provider's format, and answer what it answered."""
        try:
            wanted = InboundRequest.model_validate_json(await request.body())
        except ValidationError as exc:
            return _json(
                400,
                {
                    "error": "invalid inbound text",
                    "detail": exc.errors(include_url=False, include_context=False, include_input=False),
                },
            )
        if not settings.inbound_url:
            return _json(409, {"error": "no inbound_url configured (SMS_SIM_INBOUND_URL)"})
        reference = wanted.reference or state.next_message_id()
        body, content_type = inbound_report(
            settings.flavour,
            source=wanted.source,
            destination=wanted.destination,
            message=wanted.message,
            reference=reference,
            at=datetime.now(UTC),
        )
        headers = {
            "Authorization": aiohttp.encode_basic_auth(settings.receipt_username, settings.receipt_password),
            "Content-Type": content_type,
        }
        timeout = aiohttp.ClientTimeout(total=settings.receipt_timeout_ms / 1000)
        try:
            async with aiohttp.ClientSession(timeout=timeout, trust_env=False) as session:
                async with session.post(settings.inbound_url, data=body, headers=headers) as answer:
                    status, text = answer.status, await answer.text()
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            state.inbound["refused"] += 1
            log.warning("sms_simulator_inbound_failed", error=type(exc).__name__)
            return _json(502, {"error": f"could not reach the platform ({type(exc).__name__})"})
        state.inbound["sent" if 200 <= status < 300 else "refused"] += 1
        log.info("sms_simulator_inbound_sent", reference=reference, status_code=status)
        reported = reference if settings.flavour == "mmg" else None  # firetext reports no message id
        return _json(200, {"reference": reported, "status_code": status, "response": text[:1000]})

    @app.get("/health")
    async def health() -> Response:
        return _json(200, {"status": "ok", "flavour": settings.flavour})

    return app
