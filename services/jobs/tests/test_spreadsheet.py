"""Reading uploaded files: every format, numbers typed into spreadsheets, encodings, shape, rejections.

The XLSX, ODS and XLS files are written by the small stdlib writers at the end of this module, so the tests
need neither openpyxl nor LibreOffice.
"""

from __future__ import annotations

import datetime as dt
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from notify_jobs.domain.spreadsheet import (
    SUPPORTED_EXTENSIONS,
    FileRejected,
    cell_text,
    detect_encoding,
    read_rows,
)

Cell = str | int | float | bool | dt.date | dt.datetime | None


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# --- CSV and TSV ---------------------------------------------------------------------------------------------


def test_csv_rows_are_read_as_text_header_first(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "f.csv", b'phone number,name\r\n07700900123,"Smith, Jo"\r\n07700900456,"two\nlines"\r\n'
    )
    assert list(read_rows(path, "Batch.CSV")) == [
        ["phone number", "name"],
        ["07700900123", "Smith, Jo"],
        ["07700900456", "two\nlines"],
    ]


def test_tsv_is_tab_separated(tmp_path: Path) -> None:
    path = _write(tmp_path, "f.tsv", b"email address\tname\r\nme@example.com\tJo, Smith\r\n")
    assert list(read_rows(path, "list.tsv")) == [["email address", "name"], ["me@example.com", "Jo, Smith"]]


def test_a_txt_file_with_tabs_in_its_first_line_is_read_as_tsv(tmp_path: Path) -> None:
    path = _write(tmp_path, "f.txt", b"phone number\tname\n07700900123\tJo\n")
    assert list(read_rows(path, "list.txt")) == [["phone number", "name"], ["07700900123", "Jo"]]


def test_utf8_with_a_byte_order_mark(tmp_path: Path) -> None:
    path = _write(tmp_path, "f.csv", "\ufeffphone number,name\n07700900123,Zoë\n".encode())
    assert detect_encoding(path) == "utf-8-sig"
    assert list(read_rows(path, "f.csv")) == [["phone number", "name"], ["07700900123", "Zoë"]]


def test_utf16_as_excel_unicode_text_writes_it(tmp_path: Path) -> None:
    path = _write(tmp_path, "f.txt", "phone number\tname\r\n07700900123\tZoë\r\n".encode("utf-16"))
    assert list(read_rows(path, "f.txt")) == [["phone number", "name"], ["07700900123", "Zoë"]]


def test_windows_1252_when_the_file_is_not_utf8(tmp_path: Path) -> None:
    path = _write(tmp_path, "f.csv", "phone number,name\n07700900123,Zoë – café £5\n".encode("cp1252"))
    assert detect_encoding(path) == "cp1252"
    assert list(read_rows(path, "f.csv"))[1] == ["07700900123", "Zoë – café £5"]


def test_a_late_non_utf8_byte_still_makes_the_whole_file_windows_1252(tmp_path: Path) -> None:
    # More than a megabyte of ASCII first: sniffing only the start would have chosen UTF-8 and then failed.
    filler = b"07700900123,x\n" * 80_000
    path = _write(tmp_path, "f.csv", b"phone number,name\n" + filler + "07700900124,Zoë\n".encode("cp1252"))
    assert detect_encoding(path) == "cp1252"
    rows = list(read_rows(path, "f.csv"))
    assert len(rows) == 80_002
    assert rows[-1] == ["07700900124", "Zoë"]


def test_valid_utf8_is_not_mistaken_for_windows_1252(tmp_path: Path) -> None:
    path = _write(tmp_path, "f.csv", "name\nZoë\n".encode())
    assert detect_encoding(path) == "utf-8"
    assert list(read_rows(path, "f.csv"))[1] == ["Zoë"]


def test_rows_are_as_wide_as_the_header_and_trailing_empty_rows_are_dropped(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "f.csv", b"phone number,name,,\n07700900123\n,,\n07700900456,Jo,extra,more\n\n,\n,,,\n"
    )
    assert list(read_rows(path, "f.csv")) == [
        ["phone number", "name"],
        ["07700900123", ""],
        ["", ""],  # an empty row inside the data is kept, so row numbers stay those of the file
        ["07700900456", "Jo"],
    ]


def test_an_empty_file_has_no_rows(tmp_path: Path) -> None:
    assert list(read_rows(_write(tmp_path, "f.csv", b""), "f.csv")) == []


def test_a_file_that_cannot_be_opened_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(FileRejected) as caught:
        read_rows(tmp_path, "f.csv")  # a directory
    assert caught.value.message.startswith("Notify cannot read this file.")


# --- spreadsheets --------------------------------------------------------------------------------------------

SHEET: list[list[Cell]] = [
    ["Phone Number", "name", "amount", "due", "at", "paid"],
    [7700900123, "Zoë", 12.5, dt.date(2024, 3, 1), dt.datetime(2024, 3, 1, 9, 30), True],
    ["+44 7700 900456", None, 3, None, None, False],
    [None, None, None, None, None, None],
    [447700900789.0, "Jo", 0.1, None, None, None],
]
EXPECTED = [
    ["Phone Number", "name", "amount", "due", "at", "paid"],
    ["7700900123", "Zoë", "12.5", "2024-03-01", "2024-03-01 09:30", "TRUE"],
    ["+44 7700 900456", "", "3", "", "", "FALSE"],
    ["", "", "", "", "", ""],
    ["447700900789", "Jo", "0.1", "", "", ""],
]
WRITERS: dict[str, Callable[[Path, list[list[Cell]]], Path]] = {}


@pytest.mark.parametrize("extension", ["xlsx", "xlsm", "xls", "ods"])
def test_spreadsheets_give_the_text_the_user_typed(tmp_path: Path, extension: str) -> None:
    path = WRITERS[extension](tmp_path / f"sheet.{extension}", SHEET)
    assert list(read_rows(path, f"Upload.{extension.upper()}")) == EXPECTED


@pytest.mark.parametrize("extension", ["xlsx", "xls", "ods"])
def test_trailing_empty_spreadsheet_rows_are_dropped(tmp_path: Path, extension: str) -> None:
    path = WRITERS[extension](
        tmp_path / f"sheet.{extension}", [["phone number"], ["07700900123"], [""], [None]]
    )
    assert list(read_rows(path, f"s.{extension}")) == [["phone number"], ["07700900123"]]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (7700900123.0, "7700900123"),
        (-2.0, "-2"),
        (1.25, "1.25"),
        (1e20, "1e+20"),
        (42, "42"),
        (True, "TRUE"),
        (False, "FALSE"),
        (dt.date(2024, 1, 2), "2024-01-02"),
        (dt.datetime(2024, 1, 2), "2024-01-02"),
        (dt.datetime(2024, 1, 2, 3, 4, 5), "2024-01-02 03:04:05"),
        (dt.time(9, 30), "09:30"),
        (dt.timedelta(hours=1, minutes=30), "1:30:00"),
        ("  kept as typed ", "  kept as typed "),
    ],
)
def test_cell_text(value: object, text: str) -> None:
    assert cell_text(value) == text


# --- rejections ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["letter.pdf", "photo.JPG", "no-extension", "archive.csv.zip"])
def test_unsupported_extensions_are_rejected(tmp_path: Path, name: str) -> None:
    path = _write(tmp_path, "upload", b"phone number\n07700900123\n")
    with pytest.raises(FileRejected) as caught:
        read_rows(path, name)
    assert caught.value.code == "unsupported_file_type"
    assert "Save it as a CSV, TSV, XLSX, XLS or ODS file" in caught.value.message
    assert name in caught.value.message


@pytest.mark.parametrize("extension", ["xlsx", "xls", "ods"])
def test_a_corrupt_spreadsheet_is_rejected(tmp_path: Path, extension: str) -> None:
    path = _write(tmp_path, f"bad.{extension}", b"phone number,name\n07700900123,Jo\n")
    with pytest.raises(FileRejected) as caught:
        list(read_rows(path, f"bad.{extension}"))
    assert caught.value.message == (
        "Notify cannot read this file. Save it as a CSV, TSV, XLSX, XLS or ODS file and try again."
    )


def test_supported_extensions() -> None:
    assert set(SUPPORTED_EXTENSIONS) == {".csv", ".tsv", ".txt", ".xlsx", ".xlsm", ".xls", ".ods"}


# --- tiny writers (stdlib only) ------------------------------------------------------------------------------


def _column(index: int) -> str:
    name = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        name = chr(65 + rem) + name
    return name


def _excel_serial(value: dt.date) -> float:
    epoch = dt.datetime(1899, 12, 30)
    moment = value if isinstance(value, dt.datetime) else dt.datetime.combine(value, dt.time())
    return (moment - epoch).total_seconds() / 86400


def write_xlsx(path: Path, rows: list[list[Cell]]) -> Path:
    sheet_rows = []
    for r, row in enumerate(rows, start=1):
        cells = []
        for c, value in enumerate(row):
            ref = f"{_column(c)}{r}"
            if value is None:
                continue
            if isinstance(value, bool):
                cells.append(f'<c r="{ref}" t="b"><v>{int(value)}</v></c>')
            elif isinstance(value, dt.datetime):
                cells.append(f'<c r="{ref}" s="2"><v>{_excel_serial(value)}</v></c>')
            elif isinstance(value, dt.date):
                cells.append(f'<c r="{ref}" s="1"><v>{_excel_serial(value)}</v></c>')
            elif isinstance(value, int | float):
                cells.append(f'<c r="{ref}"><v>{value!r}</v></c>')
            else:
                cells.append(
                    f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{escape(value)}</t></is></c>'
                )
        sheet_rows.append(f'<row r="{r}">{"".join(cells)}</row>')
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    files = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            '<Override PartName="/xl/styles.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
            "</Types>"
        ),
        "_rels/.rels": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/>'
            "</Relationships>"
        ),
        "xl/workbook.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{main}" xmlns:r="{rel}">'
            '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/>'
            f'<Relationship Id="rId2" Type="{rel}/styles" Target="styles.xml"/>'
            "</Relationships>"
        ),
        "xl/styles.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><styleSheet xmlns="{main}">'
            '<fonts count="1"><font/></fonts><fills count="1"><fill/></fills>'
            '<borders count="1"><border/></borders>'
            '<cellStyleXfs count="1"><xf numFmtId="0"/></cellStyleXfs>'
            '<cellXfs count="3"><xf numFmtId="0" xfId="0"/>'
            '<xf numFmtId="14" xfId="0" applyNumberFormat="1"/>'
            '<xf numFmtId="22" xfId="0" applyNumberFormat="1"/></cellXfs>'
            "</styleSheet>"
        ),
        "xl/worksheets/sheet1.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{main}">'
            f"<sheetData>{''.join(sheet_rows)}</sheetData></worksheet>"
        ),
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return path


def write_ods(path: Path, rows: list[list[Cell]]) -> Path:
    body = []
    for row in rows:
        cells = []
        for value in row:
            if value is None:
                cells.append("<table:table-cell/>")
            elif isinstance(value, bool):
                text = "TRUE" if value else "FALSE"
                cells.append(
                    f'<table:table-cell office:value-type="boolean" office:boolean-value="{str(value).lower()}">'
                    f"<text:p>{text}</text:p></table:table-cell>"
                )
            elif isinstance(value, dt.date):
                cells.append(
                    f'<table:table-cell office:value-type="date" office:date-value="{value.isoformat()}">'
                    f"<text:p>{value.isoformat()}</text:p></table:table-cell>"
                )
            elif isinstance(value, int | float):
                cells.append(
                    f'<table:table-cell office:value-type="float" office:value="{value!r}">'
                    f"<text:p>{value!r}</text:p></table:table-cell>"
                )
            else:
                cells.append(
                    f'<table:table-cell office:value-type="string"><text:p>{escape(value)}</text:p>'
                    "</table:table-cell>"
                )
        body.append(f"<table:table-row>{''.join(cells)}</table:table-row>")
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        '<office:body><office:spreadsheet><table:table table:name="Sheet1">'
        f"{''.join(body)}</table:table></office:spreadsheet></office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" '
        'manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/" '
        'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>"
    )
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet", zipfile.ZIP_STORED)
        archive.writestr("META-INF/manifest.xml", manifest, zipfile.ZIP_DEFLATED)
        archive.writestr("content.xml", content, zipfile.ZIP_DEFLATED)
    return path


# --- XLS: BIFF8 records in an OLE2 compound file -----------------------------------------------------------


def _record(kind: int, data: bytes) -> bytes:
    return struct.pack("<HH", kind, len(data)) + data


def _bof(kind: int) -> bytes:
    return _record(0x0809, struct.pack("<HHHHII", 0x0600, kind, 0x0DBB, 0x07CC, 0, 6))


def _xf(number_format: int) -> bytes:
    # font, format, cell-style flags (locked), alignment, rotation, indent, used-attributes, borders, colours
    return _record(0x00E0, struct.pack("<HHHBBBBIIH", 0, number_format, 0x0001, 0x20, 0, 0, 0, 0, 0, 0x20C0))


def _biff_cells(rows: list[list[Cell]]) -> bytes:
    out = []
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value is None:
                continue
            if isinstance(value, bool):
                out.append(_record(0x0205, struct.pack("<HHHBB", r, c, 0, int(value), 0)))
            elif isinstance(value, dt.date):
                xf = 2 if isinstance(value, dt.datetime) else 1
                out.append(_record(0x0203, struct.pack("<HHHd", r, c, xf, _excel_serial(value))))
            elif isinstance(value, int | float):
                out.append(_record(0x0203, struct.pack("<HHHd", r, c, 0, float(value))))
            else:
                text = value.encode("utf-16-le")
                out.append(_record(0x0204, struct.pack("<HHHHB", r, c, 0, len(value), 1) + text))
    return b"".join(out)


def _workbook_stream(rows: list[list[Cell]]) -> bytes:
    sheet_name = "Sheet1"
    boundsheet_size = 4 + 8 + len(sheet_name)
    globals_head = (
        _bof(0x0005)
        + _record(0x0042, struct.pack("<H", 1200))
        + _record(0x0022, struct.pack("<H", 0))
        + _xf(0)
        + _xf(14)
        + _xf(22)
    )
    sheet_offset = len(globals_head) + boundsheet_size + 4  # + EOF
    boundsheet = _record(
        0x0085, struct.pack("<IBBBB", sheet_offset, 0, 0, len(sheet_name), 0) + sheet_name.encode("latin-1")
    )
    width = max((len(row) for row in rows), default=0)
    sheet = (
        _bof(0x0010)
        + _record(0x0200, struct.pack("<IIHHH", 0, len(rows), 0, width, 0))
        + _biff_cells(rows)
        + _record(0x000A, b"")
    )
    return globals_head + boundsheet + _record(0x000A, b"") + sheet


END_OF_CHAIN, FAT_SECTOR, FREE = 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF


def _dir_entry(name: str, kind: int, child: int, start: int, size: int) -> bytes:
    encoded = (name + "\0").encode("utf-16-le") if name else b""
    return (
        encoded.ljust(64, b"\0")
        + struct.pack("<HBB", len(encoded), kind, 1 if name else 0)
        + struct.pack("<III", FREE, FREE, child)
        + b"\0" * 16
        + struct.pack("<I", 0)
        + b"\0" * 16
        + struct.pack("<IQ", start, size)
    )


def write_xls(path: Path, rows: list[list[Cell]]) -> Path:
    stream = _workbook_stream(rows)
    stream = stream.ljust(max(4096, -(-len(stream) // 512) * 512), b"\0")  # >= 4096: no mini stream
    stream_sectors = len(stream) // 512
    directory_sector, fat_sector = stream_sectors, stream_sectors + 1
    if fat_sector >= 128:
        raise ValueError("too big for this tiny writer")
    fat = [*range(1, stream_sectors), END_OF_CHAIN, END_OF_CHAIN, FAT_SECTOR]
    fat += [FREE] * (128 - len(fat))
    directory = (
        _dir_entry("Root Entry", 5, 1, END_OF_CHAIN, 0)
        + _dir_entry("Workbook", 2, FREE, 0, len(stream))
        + _dir_entry("", 0, FREE, 0, 0) * 2
    )
    header = (
        bytes.fromhex("D0CF11E0A1B11AE1")
        + b"\0" * 16
        + struct.pack("<HHHHH", 0x003E, 0x0003, 0xFFFE, 9, 6)
        + b"\0" * 6
        + struct.pack("<IIIIIIIII", 0, 1, directory_sector, 0, 4096, END_OF_CHAIN, 0, END_OF_CHAIN, 0)
        + struct.pack("<I", fat_sector)
        + struct.pack("<I", FREE) * 108
    )
    assert len(header) == 512
    path.write_bytes(header + stream + directory + struct.pack("<128I", *fat))
    return path


WRITERS.update({"xlsx": write_xlsx, "xlsm": write_xlsx, "xls": write_xls, "ods": write_ods})
