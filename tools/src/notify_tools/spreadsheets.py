"""Spreadsheets for tests and benchmarks: tiny XLSX, ODS and XLS (BIFF8) writers on the standard library alone,
so the jobs service's tests need neither openpyxl nor LibreOffice. Each writes one sheet of plain cells (text,
numbers, booleans, dates); they are test fixtures, not a general-purpose spreadsheet library.
"""

from __future__ import annotations

import datetime as dt
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path
from xml.sax.saxutils import escape

Cell = str | int | float | bool | dt.date | dt.datetime | None


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


WRITERS: dict[str, Callable[[Path, list[list[Cell]]], Path]] = {
    "xlsx": write_xlsx,
    "xlsm": write_xlsx,
    "xls": write_xls,
    "ods": write_ods,
}
