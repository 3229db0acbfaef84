import datetime as dt
import io
import os

import pytest
from notify_content import LetterTemplate, PdfValidationError
from notify_content.letters import register_fonts, render_letter_pdf, validate_precompiled_pdf
from notify_content.recipients import validate_address
from pypdf import PdfReader, PdfWriter
from reportlab.lib.pagesizes import A4, A5, landscape
from reportlab.pdfgen.canvas import Canvas

ADDRESS = validate_address(
    {"address_line_1": "Jo Bloggs", "address_line_2": "1 High Street", "address_line_3": "sw1a1aa"},
    allow_international_letters=True,
)


def _text(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def test_letter_pdf_contains_address_date_subject_body_and_page_numbers():
    template = LetterTemplate(
        "Your ((thing))",
        "# Heading\n\nDear ((name)),\n\n* first point\n* second point\n\n[Apply online](https://example.gov.uk/apply)"
        "\n\n---\n\nSecond page text",
        contact_block="Example Department\n0300 123 4567",
    )
    rendered = template.render({"thing": "licence", "name": "Jo"})
    letter = render_letter_pdf(rendered, ADDRESS, date=dt.date(2025, 3, 7))
    pages = _text(letter.pdf)
    assert letter.page_count == len(pages) == 2
    first = pages[0]
    for expected in [
        "Jo Bloggs",
        "1 High Street",
        "SW1A 1AA",
        "Example Department",
        "7 March 2025",
        "Your licence",
        "Heading",
        "Dear Jo,",
        "first point",
        "Apply online (https://example.gov.uk/apply)",
        "Page 1 of 2",
    ]:
        assert expected in first
    assert "Second page text" in pages[1] and "Page 2 of 2" in pages[1]
    assert "Second page text" not in first
    assert not letter.too_long
    assert letter.sheets == 1


def test_letter_pdf_is_a4_and_passes_precompiled_validation():
    rendered = LetterTemplate("Subject", "Body").render({})
    letter = render_letter_pdf(rendered, ADDRESS, date=dt.date(2025, 1, 1))
    assert validate_precompiled_pdf(letter.pdf).page_count == 1
    box = PdfReader(io.BytesIO(letter.pdf)).pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)


def test_rendering_is_deterministic():
    rendered = LetterTemplate("S", "qr: https://example.com/a").render({})
    first = render_letter_pdf(rendered, ADDRESS, date=dt.date(2025, 1, 1))
    second = render_letter_pdf(rendered, ADDRESS, date=dt.date(2025, 1, 1))
    assert first.pdf == second.pdf


def test_markup_in_values_is_text_in_the_pdf():
    rendered = LetterTemplate("S", "Hello ((x))").render({"x": "<b>bold</b> & <font size=40>big</font>"})
    text = _text(render_letter_pdf(rendered, ADDRESS, date=dt.date(2025, 1, 1)).pdf)[0]
    assert "<b>bold</b> & <font size=40>big</font>" in text


def test_long_letter_is_reported():
    rendered = LetterTemplate("S", "\n\n---\n\n".join(f"Page {n}" for n in range(12))).render({})
    letter = render_letter_pdf(rendered, ADDRESS, date=dt.date(2025, 1, 1))
    assert letter.page_count == 12
    assert letter.too_long


def _pdf(pages: int = 1, size=A4) -> bytes:
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=size)
    for n in range(pages):
        canvas.drawString(100, 100, f"page {n}")
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


class TestPrecompiled:
    def test_valid(self):
        result = validate_precompiled_pdf(_pdf(3))
        assert (result.page_count, result.sheets) == (3, 2)

    def test_ten_pages_ok_eleven_not(self):
        assert validate_precompiled_pdf(_pdf(10)).page_count == 10
        with pytest.raises(PdfValidationError) as error:
            validate_precompiled_pdf(_pdf(11))
        assert error.value.code == "letter-too-long"
        assert "11 pages" in error.value.message

    @pytest.mark.parametrize("data", [b"", b"hello", b"%PDF-1.4\ngarbage", b"\x89PNG\r\n"])
    def test_not_a_pdf(self, data):
        with pytest.raises(PdfValidationError) as error:
            validate_precompiled_pdf(data)
        assert error.value.code == "not-a-pdf"
        assert error.value.message == "Letter content is not a valid PDF"

    @pytest.mark.parametrize("size", [A5, landscape(A4), (612, 792)])
    def test_not_a4_portrait(self, size):
        with pytest.raises(PdfValidationError) as error:
            validate_precompiled_pdf(_pdf(2, size))
        assert error.value.code == "letter-not-a4-portrait-oriented"
        assert "pages 1, 2" in error.value.message

    def test_rotated_landscape_page_displaying_portrait_is_accepted(self):
        writer = PdfWriter()
        page = PdfReader(io.BytesIO(_pdf(1, landscape(A4)))).pages[0]
        page.rotate(90)
        writer.add_page(page)
        out = io.BytesIO()
        writer.write(out)
        assert validate_precompiled_pdf(out.getvalue()).page_count == 1

    def test_encrypted(self):
        writer = PdfWriter()
        writer.append(PdfReader(io.BytesIO(_pdf(1))))
        writer.encrypt("secret")
        out = io.BytesIO()
        writer.write(out)
        with pytest.raises(PdfValidationError) as error:
            validate_precompiled_pdf(out.getvalue())
        assert error.value.code == "encrypted"


class TestAddressWindow:
    def test_address_read_back_from_our_own_pdf(self):
        rendered = LetterTemplate("S", "Body", contact_block="Dept\n0300 123").render({})
        letter = render_letter_pdf(rendered, ADDRESS, date=dt.date(2025, 1, 1))
        result = validate_precompiled_pdf(letter.pdf, read_address=True)
        assert result.address is not None
        assert result.address.lines == (
            "Jo Bloggs",
            "1 High Street",
            "SW1A 1AA",
        )  # contact block not included

    def test_international_address_read_back(self):
        address = validate_address(
            {
                "address_line_1": "A Person",
                "address_line_2": "1 Rue",
                "address_line_3": "Paris",
                "address_line_4": "France",
            },
            allow_international_letters=True,
        )
        letter = render_letter_pdf(LetterTemplate("S", "B").render({}), address, date=dt.date(2025, 1, 1))
        result = validate_precompiled_pdf(letter.pdf, read_address=True)
        assert result.address.postage_zone == "europe"
        with pytest.raises(PdfValidationError) as error:
            validate_precompiled_pdf(letter.pdf, read_address=True, allow_international_letters=False)
        assert error.value.code == "no-valid-address"
        assert error.value.message.endswith("Must be a real UK postcode")

    def test_pdf_without_address(self):
        with pytest.raises(PdfValidationError) as error:
            validate_precompiled_pdf(_pdf(1), read_address=True)
        assert error.value.code == "no-valid-address"
        assert "Address must be at least 3 lines" in error.value.message


def test_bilingual_letter_puts_welsh_first_with_welsh_date():
    template = LetterTemplate(
        "Your ((thing))", "English body", welsh_subject="Eich ((thing))", welsh_content="Corff Cymraeg"
    )
    assert template.placeholders == ["thing"]
    rendered = template.render({"thing": "trwydded"})
    assert rendered.is_bilingual and rendered.welsh_subject == "Eich trwydded"
    letter = render_letter_pdf(rendered, ADDRESS, date=dt.date(2025, 8, 4))
    pages = _text(letter.pdf)
    assert letter.page_count == 2
    assert "Corff Cymraeg" in pages[0] and "4 Awst 2025" in pages[0] and "4 August 2025" in pages[0]
    assert "English body" in pages[1] and "English body" not in pages[0]


DEJAVU = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


@pytest.mark.skipif(not os.path.exists(DEJAVU), reason="DejaVu fonts not installed")
def test_registered_font_prints_welsh_letters():
    fonts = register_fonts(DEJAVU, DEJAVU.replace("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"))
    rendered = LetterTemplate("Ŵyn", "Dŵr ŷd").render({})
    text = _text(render_letter_pdf(rendered, ADDRESS, date=dt.date(2025, 1, 1), fonts=fonts).pdf)[0]
    assert "Dŵr ŷd" in text and "Ŵyn" in text


def test_logo_is_drawn_in_the_logo_area():
    from PIL import Image

    png = io.BytesIO()
    Image.new("RGB", (40, 20), (200, 0, 0)).save(png, format="PNG")
    rendered = LetterTemplate("S", "B").render({})
    with_logo = render_letter_pdf(rendered, ADDRESS, date=dt.date(2025, 1, 1), logo=png.getvalue())
    without = render_letter_pdf(rendered, ADDRESS, date=dt.date(2025, 1, 1))
    page = PdfReader(io.BytesIO(with_logo.pdf)).pages[0]
    assert len(page.images) == 1
    assert len(PdfReader(io.BytesIO(without.pdf)).pages[0].images) == 0


def test_reportlab_runs_its_c_accelerators() -> None:
    """rl_accel is a dependency: without it reportlab falls back to pure Python (ASCII85, number formatting) and a
    letter costs ~15% more CPU to render."""
    from reportlab.lib import rl_accel

    assert rl_accel.fp_str.__module__ == "_rl_accel"
    assert type(rl_accel.asciiBase85Encode).__name__ == "builtin_function_or_method"
