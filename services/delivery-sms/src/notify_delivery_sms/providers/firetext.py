"""Adapter for the Firetext-style aggregator protocol (form-encoded, API key). Wire format: see ``wire``.

The API key is the ``password`` given to ``build_provider``; ``username`` is not used by this protocol.
"""

from __future__ import annotations

from urllib.parse import urlencode

import orjson

from .base import (
    DELIVERED,
    PENDING,
    PERMANENT_FAILURE,
    TECHNICAL_FAILURE,
    HttpProvider,
    InboundText,
    ProviderError,
    Receipt,
    decode_fields,
    london_time,
    normalise_msisdn,
    required_field,
)
from .wire import (
    FIRETEXT_API_KEY_HEADER,
    FIRETEXT_DECLINED,
    FIRETEXT_DECLINED_CODES,
    FIRETEXT_DELIVERED,
    FIRETEXT_PENDING,
    FIRETEXT_SEND_PATH,
)


def firetext_status(status: str, code: str | None) -> tuple[str, str]:
    """(Notify status, detail) for a Firetext receipt's status and detailed code."""
    if status == FIRETEXT_DELIVERED:
        return DELIVERED, "firetext status 0: delivered"
    if status == FIRETEXT_PENDING:
        return PENDING, "firetext status 2: pending"
    if status == FIRETEXT_DECLINED:
        if not code:
            return PERMANENT_FAILURE, "firetext status 1: declined"
        mapped = FIRETEXT_DECLINED_CODES.get(code)
        if mapped is None:
            return TECHNICAL_FAILURE, f"firetext status 1: unknown code {code[:10]}"
        return mapped[0], f"firetext code {code}: {mapped[1]}"
    return TECHNICAL_FAILURE, f"firetext unknown status {status[:10]}"


class FiretextProvider(HttpProvider):
    name = "firetext"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._send_url = self.base_url + FIRETEXT_SEND_PATH

    def _lookup_headers(self) -> dict[str, str]:
        return {FIRETEXT_API_KEY_HEADER: self._password}

    async def _send(
        self, *, to: str, content: str, sender: str, notification_id: str, international: bool
    ) -> str:
        form = urlencode(
            {
                "apiKey": self._password,
                "from": sender,
                "to": normalise_msisdn(to),
                "message": content,
                "reference": notification_id,
                "international": "1" if international else "0",
            }
        )
        response = await self._request(
            "send",
            "POST",
            self._send_url,
            data=form.encode("utf-8"),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        try:
            data = orjson.loads(response.content) if response.content else None
        except orjson.JSONDecodeError:
            data = None
        if not isinstance(data, dict):
            data = {}
        description = data.get("description")
        description = description if isinstance(description, str) else None
        if not response.is_success:
            raise self._refusal("send", response, description)
        code = data.get("code")
        if code is not None and code not in (0, "0"):
            # A 2xx carrying a non-zero code is a refusal of this request.
            raise ProviderError(
                f"firetext send: code {str(code)[:10]} ({(description or '')[:200]})",
                retryable=False,
                provider=self.name,
                status_code=response.status_code,
            )
        message_id = data.get("messageId")
        if code is None or not isinstance(message_id, str) or not message_id:
            # Accepted but unreadable: the message may exist, so the caller should look it up before resending.
            raise ProviderError(
                "firetext send: response has no code and messageId",
                retryable=True,
                provider=self.name,
                status_code=response.status_code,
            )
        return message_id

    def parse_receipt(self, body: bytes, content_type: str) -> Receipt:
        fields = decode_fields(body, content_type, default="form")
        notification_id = (fields.get("reference") or "").strip()
        if not notification_id:
            raise ValueError("firetext receipt has no reference")
        status = (fields.get("status") or "").strip()
        if not status:
            raise ValueError("firetext receipt has no status")
        notify_status, detail = firetext_status(status, (fields.get("code") or "").strip() or None)
        return Receipt(
            notification_id=notification_id,
            provider_reference=(fields.get("messageId") or "").strip() or None,
            status=notify_status,
            detail=detail,
        )

    def parse_inbound(self, body: bytes, content_type: str) -> InboundText:
        """A received text: a form with ``source`` (sender), ``destination`` (our number), ``message`` and ``time``
        (UK local). Firetext sends no message id of its own; a ``reference`` is used when there is one."""
        what = "firetext inbound text"
        fields = decode_fields(body, content_type, default="form", what=what)
        source = required_field(fields, "source", what)
        destination = required_field(fields, "destination", what)
        if "message" not in fields:
            raise ValueError(f"{what} has no message")
        time = required_field(fields, "time", what)
        try:
            received_at = london_time(time)
        except ValueError:
            raise ValueError(f"{what} time is not YYYY-MM-DD HH:MM:SS") from None
        return InboundText(
            provider_reference=(fields.get("reference") or "").strip() or None,
            source_number=source,
            destination_number=destination,
            message=fields["message"],
            received_at=received_at,
        )
