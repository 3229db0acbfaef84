"""Reading uploaded files: every format, numbers typed into spreadsheets, encodings, shape, rejections.

The XLSX, ODS and XLS files are written by the small stdlib writers of ``notify_tools.spreadsheets``, so the
tests need neither openpyxl nor LibreOffice.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from notify_jobs.domain.spreadsheet import (
    SUPPORTED_EXTENSIONS,
    FileRejected,
    cell_text,
    detect_encoding,
    read_rows,
)
from notify_tools.spreadsheets import WRITERS, Cell


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
