"""Validation of precompiled letter PDFs: parseable, not encrypted, 1–10 pages, every page A4 portrait.

:func:`validate_precompiled_pdf` returns the page count or raises ``PdfValidationError`` whose ``.code`` is a
stable key (for statuses and logs) and ``.message`` a sentence a service user can act on.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from pypdf import PdfReader
from pypdf.errors import PdfReadError, PyPdfError

from ..errors import InvalidAddressError, PdfValidationError
from ..recipients.address import PostalAddress, validate_address_lines

MAX_PAGES = 10
A4_WIDTH_PT = 595.276  # 210 mm
A4_HEIGHT_PT = 841.89  # 297 mm
SIZE_TOLERANCE_PT = 3.0  # about 1 mm: generators round page sizes differently
# Where the envelope window shows page 1: (left, top, right, bottom) in mm from the top-left corner.  Our own
# renderer prints the address at 25 mm / 45 mm, inside it; precompiled letters must put it here too.
ADDRESS_WINDOW_MM = (20.0, 40.0, 120.0, 85.0)
_MM = 72 / 25.4


@dataclass(frozen=True, slots=True)
class PrecompiledPdf:
    page_count: int
    address: PostalAddress | None = None  # read from the address window when asked for

    @property
    def sheets(self) -> int:
        """Billing unit: sheets of paper, printed double-sided."""
        return (self.page_count + 1) // 2


def validate_precompiled_pdf(
    data: bytes, *, read_address: bool = False, allow_international_letters: bool = True
) -> PrecompiledPdf:
    """Check ``data``; with ``read_address`` also read and validate the address in the window of page 1
    (failure: code ``no-valid-address``, message naming the address problem)."""
    reader = _read(data)
    try:
        pages = list(reader.pages)
    except (PyPdfError, ValueError, KeyError, TypeError) as exc:
        raise PdfValidationError("not-a-pdf", "Letter content is not a valid PDF") from exc
    if not pages:
        raise PdfValidationError("no-pages", "Letter content has no pages")
    if len(pages) > MAX_PAGES:
        raise PdfValidationError(
            "letter-too-long",
            f"Letters must be {MAX_PAGES} pages or less (5 double-sided sheets of paper). "
            f"This letter is {len(pages)} pages long.",
        )
    wrong = [number for number, page in enumerate(pages, start=1) if not _is_a4_portrait(page)]
    if wrong:
        listed = ", ".join(map(str, wrong))
        raise PdfValidationError(
            "letter-not-a4-portrait-oriented",
            f"Letters must be A4 portrait size (210 × 297 mm). Wrong size on page{'s' if len(wrong) > 1 else ''} {listed}.",
        )
    address = _address(pages[0], allow_international_letters) if read_address else None
    return PrecompiledPdf(page_count=len(pages), address=address)


def _address(page, allow_international_letters: bool) -> PostalAddress:  # type: ignore[no-untyped-def]
    lines = address_window_lines(page)
    try:
        return validate_address_lines(lines, allow_international_letters=allow_international_letters)
    except InvalidAddressError as exc:
        raise PdfValidationError(
            "no-valid-address", f"The address in the address window is not valid: {exc.message}"
        ) from exc


def address_window_lines(page) -> list[str]:  # type: ignore[no-untyped-def]
    """Text lines whose start lies inside :data:`ADDRESS_WINDOW_MM`, top to bottom."""
    left, top, right, bottom = ADDRESS_WINDOW_MM
    height_pt = float(page.mediabox.top)
    x_min, x_max = left * _MM, right * _MM
    y_min, y_max = height_pt - bottom * _MM, height_pt - top * _MM
    fragments: dict[int, list[tuple[float, str]]] = {}

    def visit(text: str, cm: list[float], tm: list[float], *_: object) -> None:
        x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
        y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
        if text.strip() and x_min <= x <= x_max and y_min <= y <= y_max:
            fragments.setdefault(round(y), []).append((x, text.replace("\n", " ")))

    try:
        page.extract_text(visitor_text=visit)
    except (PyPdfError, ValueError, KeyError, TypeError) as exc:
        raise PdfValidationError("not-a-pdf", "Letter content is not a valid PDF") from exc
    return [
        " ".join(t for _, t in sorted(parts)).strip() for _, parts in sorted(fragments.items(), reverse=True)
    ]


def _read(data: bytes) -> PdfReader:
    if not data or not data.lstrip()[:5].startswith(b"%PDF-"):
        raise PdfValidationError("not-a-pdf", "Letter content is not a valid PDF")
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise PdfValidationError(
                "encrypted", "Letter content must not be password protected or encrypted"
            )
        return reader
    except PdfValidationError:
        raise
    except (PdfReadError, PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise PdfValidationError("not-a-pdf", "Letter content is not a valid PDF") from exc


def _is_a4_portrait(page) -> bool:  # type: ignore[no-untyped-def]
    box = page.mediabox
    width, height = abs(float(box.width)), abs(float(box.height))
    if (int(page.get("/Rotate", 0) or 0) // 90) % 2:
        width, height = height, width
    return abs(width - A4_WIDTH_PT) <= SIZE_TOLERANCE_PT and abs(height - A4_HEIGHT_PT) <= SIZE_TOLERANCE_PT
