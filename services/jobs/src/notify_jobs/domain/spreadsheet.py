"""Reading an uploaded file as rows of text: CSV, TSV, XLSX/XLSM, XLS and ODS.

:func:`read_rows` gives every row of the file as a list of strings, the header row first, every row exactly as
wide as the header (shorter rows padded with ``""``, cells beyond the last named column dropped: they have no
column name so they can never be used) and with trailing entirely-empty rows dropped. Empty rows *inside* the
data are kept, so a row's position in the iteration is its row number in the file (header = row 1); skipping
them is the checker's business (:mod:`notify_jobs.domain.rows`).

CSV and TSV are streamed: only the current row is held in memory, whatever the size of the file.

Text encoding of CSV/TSV
    A byte-order mark decides when there is one (UTF-8, or UTF-16 as Excel's "Unicode text" export writes).
    Otherwise the file is UTF-8 if *all* of it decodes as UTF-8, else Windows-1252 (what Excel on Windows
    writes). That is decided by a first streamed pass with an incremental decoder (1 MiB at a time, nothing
    kept), before the first row is produced: sniffing only the beginning would misread a file whose first
    non-ASCII character comes late, and switching encoding half-way through would be worse. The pass costs a
    few milliseconds per 10 MB. The five bytes Windows-1252 leaves undefined become U+FFFD.

Spreadsheets
    The first sheet is read with python-calamine (the whole sheet is held in memory: spreadsheet formats cannot
    be streamed; the upload size limit bounds them). Cells become the text the user typed: whole numbers
    without ``.0`` (a phone number typed as 7700900123 is stored as 7700900123.0), other numbers in their
    shortest exact form, dates as ``YYYY-MM-DD``, date-times as ``YYYY-MM-DD HH:MM[:SS]``, times as
    ``HH:MM[:SS]``, booleans as ``TRUE``/``FALSE`` (as spreadsheets show them), empty cells as ``""``.

Problems (unsupported extension, a corrupt or unreadable file) raise :class:`FileRejected` with a message for
the user. Extension and encoding are checked, and a spreadsheet opened, when :func:`read_rows` is called; a CSV
that turns out malformed further on raises while being iterated.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import os
from collections.abc import Iterable, Iterator
from pathlib import PurePath
from typing import Any

from python_calamine import CalamineError, CalamineWorkbook

CSV_EXTENSIONS = frozenset({".csv", ".txt"})
TSV_EXTENSIONS = frozenset({".tsv"})
SPREADSHEET_EXTENSIONS = frozenset({".xlsx", ".xlsm", ".xls", ".ods"})
SUPPORTED_EXTENSIONS: tuple[str, ...] = (".csv", ".tsv", ".txt", ".xlsx", ".xlsm", ".xls", ".ods")

CANNOT_READ = "Notify cannot read this file. Save it as a CSV, TSV, XLSX, XLS or ODS file and try again."
WRONG_TYPE = (
    "‘{name}’ is not a spreadsheet that Notify can read. Save it as a CSV, TSV, XLSX, XLS or ODS file and try "
    "again."
)

_SCAN_CHUNK = 1 << 20
_MAX_FIELD_SIZE = 1 << 24  # a cell may be long (an email body), but not unboundedly so
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


class FileRejected(Exception):
    """The file cannot be read. ``.message`` is for the user; ``.code`` is a stable machine-readable key."""

    def __init__(self, message: str, code: str = "unreadable_file") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def extension_of(original_file_name: str) -> str:
    return PurePath(original_file_name.strip()).suffix.lower()


def is_supported(original_file_name: str) -> bool:
    return extension_of(original_file_name) in SUPPORTED_EXTENSIONS


def read_rows(path: str | os.PathLike[str], original_file_name: str) -> Iterator[list[str]]:
    """Every row of the file at ``path`` as text, header first; the format comes from ``original_file_name``."""
    extension = extension_of(original_file_name)
    if extension in CSV_EXTENSIONS or extension in TSV_EXTENSIONS:
        encoding = detect_encoding(path)
        delimiter = "\t" if extension in TSV_EXTENSIONS else None
        return _uniform(_csv_rows(path, encoding, delimiter))
    if extension in SPREADSHEET_EXTENSIONS:
        return _uniform(_spreadsheet_rows(path))
    raise FileRejected(WRONG_TYPE.format(name=PurePath(original_file_name).name), "unsupported_file_type")


# --- CSV and TSV ---------------------------------------------------------------------------------------------


def detect_encoding(path: str | os.PathLike[str]) -> str:
    """The codec to read a CSV/TSV with (see the module docstring)."""
    try:
        with open(path, "rb") as file:
            start = file.read(_SCAN_CHUNK)
            for bom, encoding in _BOMS:
                if start.startswith(bom):
                    return encoding
            decoder = codecs.getincrementaldecoder("utf-8")()
            chunk = start
            while chunk:
                decoder.decode(chunk)
                chunk = file.read(_SCAN_CHUNK)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "cp1252"
    except OSError as exc:
        raise FileRejected(CANNOT_READ) from exc
    return "utf-8"


def _csv_rows(path: str | os.PathLike[str], encoding: str, delimiter: str | None) -> Iterator[list[str]]:
    errors = "replace" if encoding == "cp1252" else "strict"
    csv.field_size_limit(max(csv.field_size_limit(), _MAX_FIELD_SIZE))
    try:
        with open(path, "rb") as raw:
            text = io.TextIOWrapper(raw, encoding=encoding, errors=errors, newline="")
            if delimiter is None:
                delimiter = _sniff_delimiter(text)
            yield from csv.reader(text, delimiter=delimiter)
    except (csv.Error, UnicodeError, OSError) as exc:
        raise FileRejected(CANNOT_READ) from exc


def _sniff_delimiter(text: io.TextIOWrapper) -> str:
    """Comma, unless the first line has tabs and no commas (a TSV saved as .csv or .txt)."""
    first = text.readline()
    text.seek(0)
    return "\t" if "\t" in first and "," not in first else ","


# --- spreadsheets --------------------------------------------------------------------------------------------


def _spreadsheet_rows(path: str | os.PathLike[str]) -> Iterator[list[str]]:
    try:
        with CalamineWorkbook.from_path(os.fspath(path)) as workbook:
            if not workbook.sheet_names:
                return iter(())
            # Not skipping leading empty rows and columns keeps row numbers those of the sheet.
            data = workbook.get_sheet_by_index(0).to_python(skip_empty_area=False)
    except CalamineError as exc:
        raise FileRejected(CANNOT_READ) from exc
    except Exception as exc:  # the Rust reader raises plain ValueError etc. for some damaged files
        raise FileRejected(CANNOT_READ) from exc
    return _cells_as_text(data)


def _cells_as_text(data: list[list[Any]]) -> Iterator[list[str]]:
    for index in range(len(data)):
        row, data[index] = data[index], []  # each row's cells are released once converted
        yield [cell_text(cell) for cell in row]


def cell_text(value: Any) -> str:
    """A spreadsheet cell as the text the user typed (see the module docstring)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="minutes" if value.second == 0 else "seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.isoformat(timespec="minutes" if value.second == 0 else "seconds")
    if isinstance(value, dt.timedelta):
        return str(value)
    return str(value)


# --- shape ---------------------------------------------------------------------------------------------------


def _uniform(rows: Iterable[list[str]]) -> Iterator[list[str]]:
    """Rows as wide as the header (trailing empty header cells trimmed); trailing empty rows dropped.

    Empty rows are counted, not stored, until a non-empty row shows they were not trailing.
    """
    iterator = iter(rows)
    header = next(iterator, None)
    if header is None:
        return
    width = len(header)
    while width and not header[width - 1].strip():
        width -= 1
    yield _fit(header, width)
    pending_empty = 0
    for row in iterator:
        fitted = _fit(row, width)
        if not any(cell.strip() for cell in fitted):
            pending_empty += 1
            continue
        for _ in range(pending_empty):
            yield [""] * width
        pending_empty = 0
        yield fitted


def _fit(row: list[str], width: int) -> list[str]:
    length = len(row)
    if length == width:
        return row
    if length > width:
        return row[:width]
    return row + [""] * (width - length)
