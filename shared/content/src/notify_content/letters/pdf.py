"""Templated letter → A4 PDF with reportlab (behaviour.md §5.3, §8).

Page 1 carries the logo area (top left), the address block placed for a windowed envelope, the contact block
and date (right), then the subject as a heading and the body; later pages carry body only.  Every page is
numbered "Page n of N".  ``---`` in the body starts a new page; a ``qr:`` paragraph becomes a QR code.

Contract: :func:`render_letter_pdf` is deterministic for the same inputs (the date is a parameter, PDF
metadata is fixed, reportlab's invariant mode is on) and reports the page count; it does not refuse long
letters — callers compare ``page_count`` with ``MAX_PAGES`` (the letter then ends ``validation-failed``).
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from functools import cache
from xml.sax.saxutils import escape

from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import BaseDocTemplate, Flowable, Frame, PageBreak, PageTemplate, Paragraph, Spacer

from ..markdown import heading_level, parse
from ..qr import qr_code_data
from ..recipients.address import PostalAddress
from ..templates import RenderedLetter

MAX_PAGES = 10
PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 20 * mm
# Windowed-envelope address block: 7 lines at most, left 25 mm, top 45 mm, inside ADDRESS_WINDOW_MM.
ADDRESS_LEFT, ADDRESS_TOP = 25 * mm, 45 * mm
RIGHT_COLUMN_LEFT = 125 * mm
LOGO_BOX = (MARGIN, 12 * mm, 50 * mm, 20 * mm)  # left, top, width, height
FIRST_PAGE_BODY_TOP = 100 * mm
STANDARD_FONTS = ("Helvetica", "Helvetica-Bold")
WELSH_MONTHS = (
    "Ionawr", "Chwefror", "Mawrth", "Ebrill", "Mai", "Mehefin",
    "Gorffennaf", "Awst", "Medi", "Hydref", "Tachwedd", "Rhagfyr",
)  # fmt: skip


def register_fonts(regular_ttf: str, bold_ttf: str) -> tuple[str, str]:
    """Register a TrueType pair (reads the files) and return names for ``render_letter_pdf(fonts=…)``.

    The built-in Helvetica only covers Latin-1 (plus a few symbols): Welsh letters such as ŵ and ŷ need a
    font like DejaVu Sans.  Call once at start-up; rendering itself does no I/O.
    """
    regular, bold = "Letter-Regular", "Letter-Bold"
    pdfmetrics.registerFont(TTFont(regular, regular_ttf))
    pdfmetrics.registerFont(TTFont(bold, bold_ttf))
    return regular, bold


@dataclass(frozen=True)
class _Styles:
    body: ParagraphStyle
    bullet: ParagraphStyle
    headings: dict[int, ParagraphStyle]


@cache
def _styles(fonts: tuple[str, str]) -> _Styles:
    regular, bold = fonts
    body = ParagraphStyle("body", fontName=regular, fontSize=11, leading=15, spaceAfter=8)
    return _Styles(
        body=body,
        bullet=ParagraphStyle("bullet", parent=body, leftIndent=14, bulletIndent=3, spaceAfter=3),
        headings={
            1: ParagraphStyle(
                "h1", parent=body, fontName=bold, fontSize=15, leading=19, spaceBefore=4, spaceAfter=8
            ),
            2: ParagraphStyle(
                "h2", parent=body, fontName=bold, fontSize=12, leading=16, spaceBefore=4, spaceAfter=6
            ),
        },
    )


@dataclass(frozen=True, slots=True)
class LetterPdf:
    pdf: bytes
    page_count: int

    @property
    def too_long(self) -> bool:
        return self.page_count > MAX_PAGES

    @property
    def sheets(self) -> int:
        return (self.page_count + 1) // 2


def render_letter_pdf(
    letter: RenderedLetter,
    address: PostalAddress,
    *,
    date: dt.date,
    logo: bytes | None = None,
    fonts: tuple[str, str] = STANDARD_FONTS,
) -> LetterPdf:
    """Render ``letter`` addressed to ``address`` and dated ``date`` (``1 January 2025``; bilingual letters
    also show the Welsh date).  ``logo`` is PNG/JPEG bytes for the logo area; ``fonts`` see
    :func:`register_fonts`."""
    buffer = io.BytesIO()
    dates = [format_date(date)] + ([format_welsh_date(date)] if letter.is_bilingual else [])
    header = _FirstPage(address, letter.contact_block, dates, logo, fonts[0])
    doc = BaseDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
        title="Letter",
        author="",
        subject="",
        creator="notify-content",
        invariant=1,
    )
    body_width = PAGE_WIDTH - 2 * MARGIN
    first = Frame(MARGIN, MARGIN, body_width, PAGE_HEIGHT - FIRST_PAGE_BODY_TOP - MARGIN, id="first")
    later = Frame(MARGIN, MARGIN, body_width, PAGE_HEIGHT - 2 * MARGIN, id="later")
    doc.addPageTemplates(
        [
            PageTemplate(id="first", frames=[first], onPage=header.draw, autoNextPageTemplate="later"),
            PageTemplate(id="later", frames=[later]),
        ]
    )
    doc.build(_story(letter, _styles(fonts)), canvasmaker=_numbered_canvas(fonts[0]))
    pdf = buffer.getvalue()
    return LetterPdf(pdf=pdf, page_count=doc.page)


class _FirstPage:
    def __init__(
        self, address: PostalAddress, contact: str | None, dates: list[str], logo: bytes | None, font: str
    ) -> None:
        self.address, self.contact, self.dates, self.logo, self.font = address, contact, dates, logo, font

    def draw(self, canvas: Canvas, doc: BaseDocTemplate) -> None:
        if self.logo:
            left, top, width, height = LOGO_BOX
            canvas.drawImage(
                ImageReader(io.BytesIO(self.logo)),
                left,
                PAGE_HEIGHT - top - height,
                width,
                height,
                preserveAspectRatio=True,
                anchor="nw",
                mask="auto",
            )
        self._lines(canvas, ADDRESS_LEFT, ADDRESS_TOP, list(self.address.lines), 11, 13)
        contact_lines = (self.contact or "").splitlines()
        self._lines(canvas, RIGHT_COLUMN_LEFT, ADDRESS_TOP, contact_lines, 10, 12)
        date_top = ADDRESS_TOP + (len(contact_lines) + 1) * 12 + 4 * mm
        self._lines(canvas, RIGHT_COLUMN_LEFT, max(date_top, 80 * mm), self.dates, 10, 12)

    def _lines(
        self, canvas: Canvas, left: float, top: float, lines: list[str], size: int, leading: int
    ) -> None:
        text = canvas.beginText(left, PAGE_HEIGHT - top - size)
        text.setFont(self.font, size, leading)
        for line in lines:
            text.textLine(line)
        canvas.drawText(text)


def format_date(date: dt.date) -> str:
    return f"{date.day} {date.strftime('%B')} {date.year}"


def format_welsh_date(date: dt.date) -> str:
    return f"{date.day} {WELSH_MONTHS[date.month - 1]} {date.year}"


def _numbered_canvas(font: str) -> type[Canvas]:
    return type("NumberedCanvas", (_NumberedCanvas,), {"font": font})


class _NumberedCanvas(Canvas):
    """Draws "Page n of N" once the total is known (pages are buffered until save)."""

    font = STANDARD_FONTS[0]

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self._pages: list[dict] = []

    def showPage(self) -> None:  # noqa: N802 (reportlab API)
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        for state in self._pages:
            self.__dict__.update(state)
            self.setFont(self.font, 9)
            self.drawCentredString(PAGE_WIDTH / 2, 10 * mm, f"Page {self._pageNumber} of {total}")
            super().showPage()
        super().save()


def _story(letter: RenderedLetter, styles: _Styles) -> list[Flowable]:
    """Welsh subject and body first for bilingual letters, then a new page for the English."""
    if not letter.is_bilingual:
        return _flowables(letter.subject, letter.body, styles)
    welsh = _flowables(letter.welsh_subject or "", letter.welsh_body or "", styles)
    return [*welsh, PageBreak(), *_flowables(letter.subject, letter.body, styles)]


def _flowables(subject: str, body: str, styles: _Styles) -> list[Flowable]:
    story: list[Flowable] = [Paragraph(escape(subject), styles.headings[1])] if subject else []
    qr_data = iter(qr_code_data(body))
    ordered: list[int] = []
    heading: ParagraphStyle | None = None
    bullet: str | None = None
    for token in parse(body):
        kind = token.type
        if kind == "heading_open":
            heading = styles.headings.get(heading_level(token))
        elif kind == "hr":
            story.append(PageBreak())
        elif kind == "bullet_list_open":
            ordered.append(0)
        elif kind == "ordered_list_open":
            ordered.append(int(token.attrGet("start") or 1))
        elif kind in ("bullet_list_close", "ordered_list_close"):
            ordered.pop()
            story.append(Spacer(1, 5))
        elif kind == "list_item_open":
            bullet = f"{ordered[-1]}." if ordered[-1] else "•"
            if ordered[-1]:
                ordered[-1] += 1
        elif kind == "inline":
            text = _inline_markup(token.children or [])
            if token.content.lower().lstrip().startswith("qr:") and not ordered:
                story.append(_qr(next(qr_data, token.content.split(":", 1)[1].strip())))
            elif bullet is not None:
                story.append(Paragraph(text, styles.bullet, bulletText=bullet))
                bullet = None
            else:
                story.append(Paragraph(text, heading or styles.body))
            heading = None
    return story


def _inline_markup(children) -> str:  # type: ignore[no-untyped-def]
    """reportlab paragraph markup for inline tokens: text escaped, links printed as ``text (URL)``."""
    out: list[str] = []
    href: str | None = None
    link_text: list[str] = []
    for child in children:
        if child.type == "link_open":
            href, link_text = child.attrGet("href") or "", []
        elif child.type == "link_close":
            text = "".join(link_text)
            out.append(escape(text if text == href else f"{text} ({href})"))
            href = None
        else:
            piece = "\n" if child.type in ("softbreak", "hardbreak") else child.content
            (link_text if href is not None else out).append(piece if href is not None else escape(piece))
    return "".join(out).replace("\n", "<br/>")


def _qr(data: str) -> Flowable:
    size = 30 * mm
    widget = QrCodeWidget(data, barLevel="M")
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
    drawing.add(widget)
    return drawing
