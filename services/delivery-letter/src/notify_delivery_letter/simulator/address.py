"""The print simulator's reading of a letter's address window, with PDFium (pypdfium2).

The simulator reads the first address line of every letter it is sent, to choose its receipt. pypdf's text
extraction (the content engine's ``address_window_lines``, which validates precompiled letters) costs about 1.5 ms a
letter; PDFium, a C++ library, reads the same window's text in about a third of that.
"""

from __future__ import annotations

import pypdfium2 as pdfium
from notify_content.letters import ADDRESS_WINDOW_MM

_MM = 72 / 25.4


def address_window_lines(pdf: bytes) -> list[str]:
    """The non-blank lines of text inside page 1's address window, top to bottom. Raises ``PdfiumError`` (or
    ``IndexError`` for a PDF with no pages) when the PDF cannot be read."""
    document = pdfium.PdfDocument(pdf)
    try:
        page = document[0]
        height = page.get_height()
        left, top, right, bottom = ADDRESS_WINDOW_MM
        text = page.get_textpage().get_text_bounded(
            left=left * _MM, bottom=height - bottom * _MM, right=right * _MM, top=height - top * _MM
        )
    finally:
        document.close()
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]
