"""Letters: templated letter PDFs (:mod:`.pdf`) and precompiled PDF validation (:mod:`.precompiled`)."""

from .pdf import MAX_PAGES, LetterPdf, format_date, format_welsh_date, register_fonts, render_letter_pdf
from .precompiled import ADDRESS_WINDOW_MM, PrecompiledPdf, address_window_lines, validate_precompiled_pdf

__all__ = [
    "ADDRESS_WINDOW_MM",
    "MAX_PAGES",
    "LetterPdf",
    "PrecompiledPdf",
    "address_window_lines",
    "format_date",
    "format_welsh_date",
    "register_fonts",
    "render_letter_pdf",
    "validate_precompiled_pdf",
]
