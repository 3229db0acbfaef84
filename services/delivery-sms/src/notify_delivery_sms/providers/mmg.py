"""Adapter for the MMG-style aggregator protocol (JSON over HTTP basic auth). Wire format: see ``wire``."""

from __future__ import annotations

from urllib.parse import unquote_plus

import aiohttp
import orjson

from .base import (
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
from .wire import MMG_SEND_PATH, MMG_STATUSES


def mmg_status(code: str) -> str:
    """Notify status for an MMG receipt status code; anything unrecognised is a technical failure."""
    try:
        return MMG_STATUSES.get(int(code.strip()), TECHNICAL_FAILURE)
    except ValueError:
        return TECHNICAL_FAILURE


class MmgProvider(HttpProvider):
    name = "mmg"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._auth_header = aiohttp.encode_basic_auth(self._username, self._password)
        self._send_url = self.base_url + MMG_SEND_PATH

    def _lookup_headers(self) -> dict[str, str]:
        return {"Authorization": self._auth_header}

    async def _send(
        self, *, to: str, content: str, sender: str, notification_id: str, international: bool
    ) -> str:
        payload = {
            "reqType": "BULK",
            "MSISDN": normalise_msisdn(to),
            "msg": content,
            "sender": sender,
            "cid": notification_id,
            "multi": True,
            "international": bool(international),
        }
        response = await self._request(
            "send",
            "POST",
            self._send_url,
            data=orjson.dumps(payload),
            headers={"Authorization": self._auth_header, "Content-Type": "application/json"},
        )
        try:
            data = orjson.loads(response.content) if response.content else None
        except orjson.JSONDecodeError:
            data = None
        if not response.is_success:
            description = data.get("Description") if isinstance(data, dict) else None
            raise self._refusal("send", response, description if isinstance(description, str) else None)
        reference = data.get("reference") if isinstance(data, dict) else None
        if not isinstance(reference, str) or not reference:
            # Accepted but unreadable: the message may exist, so the caller should look it up before resending.
            raise ProviderError(
                "mmg send: response has no message reference",
                retryable=True,
                provider=self.name,
                status_code=response.status_code,
            )
        return reference

    def parse_receipt(self, body: bytes, content_type: str) -> Receipt:
        fields = decode_fields(body, content_type, default="json")
        notification_id = (fields.get("CID") or fields.get("cid") or "").strip()
        if not notification_id:
            raise ValueError("mmg receipt has no CID")
        code = (fields.get("status") or "").strip()
        if not code:
            raise ValueError("mmg receipt has no status")
        detail = f"mmg status {code}"
        substatus = (fields.get("substatus") or "").strip()
        if substatus:
            detail += f" substatus {substatus}"
        return Receipt(
            notification_id=notification_id,
            provider_reference=(fields.get("reference") or "").strip() or None,
            status=mmg_status(code),
            detail=detail[:100],
        )

    def parse_inbound(self, body: bytes, content_type: str) -> InboundText:
        """A received text: JSON with ``ID``, ``MSISDN`` (sender), ``Number`` (our number), ``Message`` and
        ``DateRecieved`` (sic), the last two URL-encoded with ``+`` for spaces; the time is UK local and optional."""
        fields = decode_fields(body, content_type, default="json", what="mmg inbound text")
        what = "mmg inbound text"
        reference = required_field(fields, "ID", what)
        source = required_field(fields, "MSISDN", what)
        destination = required_field(fields, "Number", what)
        if "Message" not in fields:
            raise ValueError(f"{what} has no Message")
        date = (fields.get("DateRecieved") or fields.get("DateReceived") or "").strip()
        try:
            received_at = london_time(unquote_plus(date)) if date else None
        except ValueError:
            raise ValueError(f"{what} DateRecieved is not YYYY-MM-DD HH:MM:SS") from None
        return InboundText(
            provider_reference=reference,
            source_number=source,
            destination_number=destination,
            message=unquote_plus(fields["Message"]),
            received_at=received_at,
        )
