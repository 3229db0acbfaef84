"""The print simulator reads the address window with PDFium: the same lines as the content engine's pypdf reading,
for the PDFs this platform renders and for PDFs made elsewhere; nothing (the letter is despatched) for what it cannot
read."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from notify_content.letters import address_window_lines, render_letter_pdf
from notify_content.recipients import validate_address_lines
from notify_content.templates import RenderedLetter
from notify_delivery_letter.simulator.address import address_window_lines as pdfium_lines
from notify_delivery_letter.simulator.app import outcome_for, read_address
from pypdf import PdfReader

BODY = """Dear Ada,

# What happens next

* we check your documents
* we contact your referees

1. first
2. second

Find out more at https://www.gov.uk/example or [contact us](https://example.gov.uk/contact).

qr: https://www.gov.uk/example

---

Page two (with brackets) and a backslash \\ here.
"""


def pypdf_lines(pdf: bytes) -> list[str]:
    return address_window_lines(PdfReader(io.BytesIO(pdf)).pages[0])


def rendered(address: list[str], *, body: str = BODY, contact: str | None = "Team\n0300 123 4567") -> bytes:
    lines = validate_address_lines(address, allow_international_letters=True)
    letter = RenderedLetter(subject="About (your) letter", body=body, contact_block=contact)
    return render_letter_pdf(letter, lines, date=dt.date(2025, 1, 2)).pdf


@pytest.mark.parametrize(
    "address",
    [
        ["Ada Lovelace", "1 High Street", "SW1A 1AA"],
        ["Reject Ada Lovelace", "Flat (2)", "1 High Street", "SW1A 1AA"],
        ["Return Ada", "The Old Mill", "1 Long Lane", "Little Village", "Big Town", "Shire", "LS1 1AA"],
        ["Ada Lovelace", "1 Rue de la Paix", "75002 Paris", "France"],
        ["A. N. Other 'Esq.'", "Back\\slash House", "SW1A 1AA"],
    ],
)
def test_the_platforms_letters_are_read_as_pypdf_reads_them(address: list[str]) -> None:
    pdf = rendered(address)
    assert pdfium_lines(pdf) == pypdf_lines(pdf) == [" ".join(line.split()) for line in address]


def test_long_letters_and_letters_without_a_contact_block_are_read_as_pypdf_reads_them() -> None:
    long = rendered(
        ["Ada", "1 High Street", "SW1A 1AA"], body="\n\n---\n\n".join(["Page"] * 12), contact=None
    )
    assert pdfium_lines(long) == pypdf_lines(long) == ["Ada", "1 High Street", "SW1A 1AA"]


def test_text_that_is_not_plain_ascii_is_read_too() -> None:
    pdf = rendered(["Zoë Smith", "1 High Street", "SW1A 1AA"])
    assert read_address(pdf) == pypdf_lines(pdf) == ["Zoë Smith", "1 High Street", "SW1A 1AA"]


# --- PDFs of other shapes ----------------------------------------------------------------------------------------
HELVETICA = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
IN_WINDOW = b"BT /F1 11 Tf 13 TL 1 0 0 1 70 700 Tm (Reject Ada) Tj T* (1 High Street) Tj T* ET"


def tiny_pdf(content: bytes, *, font: bytes = HELVETICA, update: bool = False) -> bytes:
    """A one-page A4 PDF with a classic cross-reference table; ``update`` appends a second revision."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [ 3 0 R ] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [ 0 0 595.2756 841.8898 ] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        font,
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    if update:
        again = len(out)
        out += b"6 0 obj\n<< /Producer (someone) >>\nendobj\n"
        second = len(out)
        out += b"xref\n6 1\n%010d 00000 n \ntrailer\n" % again
        out += b"<< /Size 7 /Root 1 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n" % (xref, second)
    return bytes(out)


def test_a_simple_pdf_from_elsewhere_is_read_as_pypdf_reads_it() -> None:
    pdf = tiny_pdf(b"q 1 0 0 1 0 0 cm " + IN_WINDOW + b" Q")
    assert pdfium_lines(pdf) == pypdf_lines(pdf) == ["Reject Ada", "1 High Street"]


@pytest.mark.parametrize(
    "pdf",
    [
        tiny_pdf(b"BT /F1 11 Tf 1 0 0 1 70 700 Tm [(Reject) -250 (Ada)] TJ ET"),  # a TJ array
        tiny_pdf(IN_WINDOW, update=True),  # an incremental update
    ],
)
def test_pdfs_of_other_shapes_choose_the_same_receipt_as_pypdf(pdf: bytes) -> None:
    assert outcome_for(read_address(pdf)) == outcome_for(pypdf_lines(pdf)) == "rejected"


def test_text_outside_the_window_is_not_read() -> None:
    assert read_address(tiny_pdf(b"BT /F1 11 Tf 1 0 0 1 70 300 Tm (Reject Ada) Tj ET")) == []


def test_what_is_not_a_pdf_has_no_address() -> None:
    assert read_address(b"%PDF-1.4 nonsense") == []
    assert read_address(b"") == []
