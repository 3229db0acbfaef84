"""What a letter request comes to: a templated letter rendered, a precompiled one scanned and checked.

Pure functions over the content engine (behaviour.md §8, public-api.md §5.3-5.4): no I/O, so they are tested alone.
Reasons in ``detail`` are Notify's sentences for the service; they never contain the address or the letter's text.
"""

from __future__ import annotations

from dataclasses import dataclass

from notify_content.errors import ContentError, PdfValidationError
from notify_content.letters import MAX_PAGES, render_letter_pdf, validate_precompiled_pdf
from notify_content.recipients import PostalAddress, validate_address_lines
from notify_content.templates import RenderedLetter
from notify_contracts import LetterDeliveryRequestedV1

from .schedule import LONDON

VIRUS_FOUND = "Letter content did not pass the virus scan"


@dataclass(frozen=True)
class Prepared:
    """A letter ready to print (``failure`` None) or the failure it ends in.

    ``pdf`` is set when this step made the PDF (templated letters); ``pdf_size`` for every letter ready to print;
    ``recipient`` and ``report_postage`` only for a precompiled letter, whose address and postage come from its
    PDF."""

    failure: str | None = None  # "validation-failed" | "virus-scan-failed"
    detail: str | None = None
    pdf: bytes | None = None
    page_count: int | None = None
    postage: str | None = None
    recipient: str | None = None
    report_postage: str | None = None
    pdf_size: int | None = None

    @property
    def sheets(self) -> int | None:
        return None if self.page_count is None else (self.page_count + 1) // 2


def too_long(page_count: int) -> str:
    return (
        f"Letters must be {MAX_PAGES} pages or less (5 double-sided sheets of paper). "
        f"This letter is {page_count} pages long."
    )


def render_templated(request: LetterDeliveryRequestedV1) -> Prepared:
    """Render the letter dated on its creation day (London); more than 10 pages is a validation failure."""
    try:
        address = validate_address_lines(list(request.address_lines), allow_international_letters=True)
        letter = RenderedLetter(
            subject=request.subject or "", body=request.body, contact_block=request.contact_block
        )
        rendered = render_letter_pdf(letter, address, date=request.created_at.astimezone(LONDON).date())
    except ContentError as exc:  # an address or a QR code the gateway let through, but print cannot take
        return Prepared(failure="validation-failed", detail=exc.message)
    if rendered.too_long:
        return Prepared(
            failure="validation-failed", detail=too_long(rendered.page_count), page_count=rendered.page_count
        )
    return Prepared(
        pdf=rendered.pdf, page_count=rendered.page_count, postage=request.postage, pdf_size=len(rendered.pdf)
    )


def check_precompiled(request: LetterDeliveryRequestedV1, pdf: bytes, *, infected: bool) -> Prepared:
    """A precompiled PDF after its virus scan: valid against the letter spec, with a valid address in the window."""
    if infected:
        return Prepared(failure="virus-scan-failed", detail=VIRUS_FOUND)
    try:
        checked = validate_precompiled_pdf(pdf, read_address=True, allow_international_letters=True)
    except PdfValidationError as exc:
        return Prepared(failure="validation-failed", detail=exc.message)
    assert checked.address is not None
    postage = postage_for(checked.address, request.postage)
    return Prepared(
        page_count=checked.page_count,
        postage=postage,
        recipient="\n".join(checked.address.lines),
        report_postage=postage,
        pdf_size=len(pdf),
    )


def postage_for(address: PostalAddress, requested: str) -> str:
    """``europe`` / ``rest-of-world`` for an address abroad, else the requested postage."""
    return address.postage_zone if address.international else requested
