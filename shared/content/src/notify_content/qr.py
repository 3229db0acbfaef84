"""Letter QR codes: a paragraph ``qr: <text or URL>`` is printed as a QR code (behaviour.md §5.3)."""

from __future__ import annotations

import re

from .errors import QrCodeTooLong

MAX_QR_BYTES = 504
_QR_PARAGRAPH = re.compile(
    r"(?:^|\n[ \t]*\n)[ \t]*qr:[ \t]*(.*?)[ \t]*(?=\n[ \t]*\n|\Z)", re.IGNORECASE | re.DOTALL
)


def qr_code_data(body: str) -> list[str]:
    """The data of every QR paragraph in ``body``, in order (line breaks inside a paragraph removed)."""
    return ["".join(match.group(1).split("\n")).strip() for match in _QR_PARAGRAPH.finditer(body)]


def check_qr_codes(body: str) -> None:
    """Raise :class:`QrCodeTooLong` for the first QR paragraph whose UTF-8 data exceeds 504 bytes."""
    for data in qr_code_data(body):
        size = len(data.encode("utf-8"))
        if size > MAX_QR_BYTES:
            raise QrCodeTooLong(data=data, num_bytes=size, max_bytes=MAX_QR_BYTES)
