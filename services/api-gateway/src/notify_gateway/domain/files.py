"""Send a file by email (public-api.md §8): validate file objects in personalisation and swap them for links.

A personalisation value that is an object with a ``file`` key is a file. In email sends it is checked (option
messages as Notify words them, for smoke-test recipients too), then stored through the notifications service's
internal document store and replaced by its download link, before the length check (§5.0 step 9). Smoke-test
recipients get a dummy link and nothing is stored. SMS and letters refuse file objects (§5.0 step 6).

The store is configured once per process by the gateway's bootstrap (``configure``); the send path is synchronous,
so the store is too (one short internal call per file).
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import mimetypes
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from .errors import V2Error, bad_request, unavailable, validation_error

MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_FILENAME_CHARS = 100
DEFAULT_RETENTION_WEEKS = 26
ADMIN_URL = "https://www.notifications.service.gov.uk"
ONLY_EMAIL = "Can only send a file by email"

# The allowed types, by extension (the docs' list; "jpg" and "jpeg" are the same type).
FILE_TYPES: dict[str, str] = {
    "csv": "text/csv",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "jpeg": "image/jpeg",
    "jpg": "image/jpeg",
    "json": "application/json",
    "odt": "application/vnd.oasis.opendocument.text",
    "pdf": "application/pdf",
    "png": "image/png",
    "rtf": "application/rtf",
    "txt": "text/plain",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
EXTENSION_FOR = {
    "text/csv": "csv",
    "application/msword": "doc",
    FILE_TYPES["docx"]: "docx",
    "image/jpeg": "jpg",
    "application/json": "json",
    FILE_TYPES["odt"]: "odt",
    "application/pdf": "pdf",
    "image/png": "png",
    "application/rtf": "rtf",
    "text/plain": "txt",
    FILE_TYPES["xlsx"]: "xlsx",
}
KNOWN_OPTIONS = ("file", "is_csv", "confirm_email_before_download", "retention_period", "filename")
_RETENTION = re.compile(r"(\d+) weeks?\Z")


class DocumentRejected(Exception):
    """The document store refused the file; ``message`` is its reason (shown to the caller as a 400)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DocumentStoreUnavailable(Exception):
    """The document store could not be reached."""


class DocumentStore(Protocol):
    def upload(self, service_id: str, document: dict[str, Any]) -> dict[str, Any]:
        """Store one document; answer at least ``{"id": ..., "key": ...}``."""


# --------------------------------------------------------------------------------------------------
# recognising and validating file objects


def is_file(value: object) -> bool:
    return isinstance(value, Mapping) and "file" in value


def file_keys(personalisation: Mapping[str, Any] | None) -> list[str]:
    return [k for k, v in (personalisation or {}).items() if is_file(v)]


def reject_files(personalisation: Mapping[str, Any] | None) -> None:
    """SMS and letters: a file object anywhere in the personalisation is refused (§5.0 step 6)."""
    if file_keys(personalisation):
        raise bad_request(ONLY_EMAIL)


def placeholder_link(root: str, service_id: str) -> str:
    """The dummy link smoke-test recipients get; also stands in for files while the template is first rendered."""
    return f"{root}d/{service_id}/test-document"


def with_placeholders(personalisation: Mapping[str, Any], root: str, service_id: str) -> dict[str, Any]:
    link = placeholder_link(root, service_id)
    return {k: link if is_file(v) else v for k, v in personalisation.items()}


def _shown(value: object) -> str:
    """A value as Notify's messages show it (Python's text of it, JSON null/true/false as Python's)."""
    return str(value)


@dataclass(frozen=True)
class FileOptions:
    content_b64: str
    filename: str | None
    is_csv: bool
    confirm_email_before_download: bool
    retention_weeks: int


def validate_file(value: Mapping[str, Any]) -> FileOptions:
    """Check one file object; ValidationError with every problem, in the schema's order."""
    problems: list[str] = []
    extra = [k for k in value if k not in KNOWN_OPTIONS]
    if extra:
        listed = ", ".join(str(k) for k in extra)
        problems.append(
            f"Additional properties are not allowed ({listed} {'was' if len(extra) == 1 else 'were'} unexpected)"
        )
    content = value.get("file")
    if not isinstance(content, str):
        problems.append(f"file {_shown(content).replace(chr(39), '')} is not of type string")
    is_csv = value.get("is_csv")
    if is_csv is not None and not isinstance(is_csv, bool):
        problems.append(
            f"is_csv Unsupported value for is_csv: {_shown(is_csv)}. Use a boolean true or false value."
        )
    confirm = value.get("confirm_email_before_download")
    if confirm is not None and not isinstance(confirm, bool):
        problems.append(
            "confirm_email_before_download Unsupported value for confirm_email_before_download: "
            f"{_shown(confirm)}. Use a boolean true or false value."
        )
    retention = value.get("retention_period")
    weeks = DEFAULT_RETENTION_WEEKS
    if retention is not None:
        match = _RETENTION.match(str(retention).strip().lower()) if isinstance(retention, str) else None
        if match is None or not 1 <= int(match.group(1)) <= 78:
            problems.append(
                f"retention_period Unsupported value for retention_period: {_shown(retention)}. "
                "Supported periods are from 1 to 78 weeks."
            )
        else:
            weeks = int(match.group(1))
    filename = value.get("filename")
    if filename is not None and (not isinstance(filename, str) or "." not in filename):
        problems.append("filename `filename` must end with a file extension. For example, filename.csv")
    if "is_csv" in value and "filename" in value:
        problems.append("Do not set a value for `is_csv` if `filename` is set.")
    if problems:
        raise validation_error(*dict.fromkeys(problems))
    return FileOptions(
        content_b64=str(content),
        filename=filename,
        is_csv=bool(is_csv),
        confirm_email_before_download=confirm is not False,
        retention_weeks=weeks,
    )


# --------------------------------------------------------------------------------------------------
# file types


def unsupported(mime_type: str) -> V2Error:
    supported = ", ".join(f"'.{ext}'" for ext in sorted(FILE_TYPES))
    return bad_request(f"Unsupported file type '{mime_type}'. Supported types are: {supported}")


def _sniff_zip(content: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = archive.namelist()
            if "mimetype" in names and archive.read("mimetype").strip() == FILE_TYPES["odt"].encode():
                return FILE_TYPES["odt"]
    except (zipfile.BadZipFile, KeyError, OSError, RuntimeError):
        return "application/zip"
    if any(n.startswith("word/") for n in names):
        return FILE_TYPES["docx"]
    if any(n.startswith("xl/") for n in names):
        return FILE_TYPES["xlsx"]
    return "application/zip"


def sniff(content: bytes, *, is_csv: bool = False) -> str:
    """The content's type from its first bytes (used when no filename says what it is)."""
    if content.startswith(b"%PDF-"):
        return "application/pdf"
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if content.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if content.startswith(b"{\\rtf"):
        return "application/rtf"
    if content.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "application/msword"
    if content.startswith(b"PK\x03\x04"):
        return _sniff_zip(content)
    if b"\x00" in content:
        return "application/octet-stream"
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return "application/octet-stream"
    if is_csv:
        return "text/csv"
    stripped = text.strip()
    if stripped[:1] in ("{", "["):
        try:
            json.loads(stripped)
        except ValueError:
            pass
        else:
            return "application/json"
    return "text/plain"


def file_type(content: bytes, options: FileOptions) -> tuple[str, str]:
    """``(mime type, filename)``: from the filename's extension when there is one, else from the content."""
    if options.filename:
        ext = options.filename.rsplit(".", 1)[-1].lower()
        if ext not in FILE_TYPES:
            raise unsupported(mimetypes.guess_type(options.filename)[0] or "application/octet-stream")
        return FILE_TYPES[ext], options.filename
    mime = sniff(content, is_csv=options.is_csv)
    if mime not in EXTENSION_FOR:
        raise unsupported(mime)
    return mime, f"document.{EXTENSION_FOR[mime]}"


def decode(options: FileOptions) -> bytes:
    try:
        content = base64.b64decode(options.content_b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise bad_request("File is not valid base64") from exc
    if len(content) > MAX_FILE_BYTES:
        raise bad_request("File is larger than 2MB")
    return content


# --------------------------------------------------------------------------------------------------
# the send path's step


def check_can_send_files(service: Mapping[str, Any]) -> None:
    if not service.get("contact_link"):
        raise bad_request(
            "Send files by email has not been set up - add contact details for your service at "
            f"{ADMIN_URL}/services/{service['id']}/service-settings/send-files-by-email"
        )


def download_link(root: str, service_id: str, document_id: str, key: str) -> str:
    return f"{root}d/{service_id}/{document_id}?key={key}"


def attach_files(
    personalisation: Mapping[str, Any],
    *,
    service: Mapping[str, Any],
    recipient: str,
    root: str,
    smoke_test: bool,
    store: DocumentStore | None,
) -> dict[str, Any]:
    """public-api.md §5.0 step 9: every file object validated, stored (not for smoke tests), replaced by its link.

    Answers the personalisation to render; unchanged (a copy) when there are no files.
    """
    keys = file_keys(personalisation)
    result = dict(personalisation)
    if not keys:
        return result
    check_can_send_files(service)
    checked = {k: validate_file(personalisation[k]) for k in keys}
    if smoke_test:
        for k in keys:
            result[k] = placeholder_link(root, service["id"])
        return result
    prepared = []
    for k in keys:
        options = checked[k]
        content = decode(options)
        mime, filename = file_type(content, options)
        if len(filename) > MAX_FILENAME_CHARS:
            raise bad_request("filename cannot be longer than 100 characters")
        prepared.append((k, options, mime, filename))
    if store is None:
        raise unavailable()
    for k, options, mime, filename in prepared:
        try:
            stored = store.upload(
                service["id"],
                {
                    "file": options.content_b64,
                    "filename": filename,
                    "mime_type": mime,
                    "confirm_email_before_download": options.confirm_email_before_download,
                    "retention_weeks": options.retention_weeks,
                    "recipient": recipient if options.confirm_email_before_download else None,
                },
            )
        except DocumentRejected as exc:
            raise bad_request(exc.message) from exc
        except DocumentStoreUnavailable as exc:
            raise unavailable() from exc
        result[k] = download_link(root, service["id"], stored["id"], stored["key"])
    return result
