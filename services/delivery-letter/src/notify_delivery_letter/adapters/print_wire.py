"""The print-batch upload protocol, shared by the provider adapter and the print simulator.

``POST <provider>/batches`` with HTTP basic auth, ``Idempotency-Key: <batch id>`` and an ``application/zip`` body:

- ``manifest.json``: ``{"batch_id", "created_at", "letters": [{"notification_id", "postage", "sheets", "pages",
  "file"}]}`` (postage is one of first, second, economy, europe, rest-of-world);
- one ``<notification id>.pdf`` per letter (the file the manifest names), stored uncompressed (PDFs are already).

Answer ``201`` (accepted) or ``200`` (a retry of a key already accepted: the first answer again, nothing printed
twice), JSON ``{"batch_reference", "letters": [{"notification_id", "reference"}]}``. ``401`` bad credentials,
``400``/``422`` a malformed upload (not retried), ``408``/``429``/``5xx`` try again later.

Receipts come back as ``POST /notifications/letter/receipts`` (basic auth) with JSON
``{"receipts": [{"notification_id", "reference", "status": "DESPATCHED" | "REJECTED" | "RETURNED", "reason"?}]}``.

Letters returned to sender are reported later, in bulk, by the references the printer gave them:
``POST /notifications/letter/returned`` (basic auth) with JSON ``{"references": ["<reference>", ...]}``. Answer
``200`` ``{"result": "success", "returned": <letters newly returned>}``; ``409`` with ``"unknown": [<references>]``
when some name no letter the printer was given (or one it rejected); the others were applied all the same, and a
report sent again changes nothing.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

BATCH_PATH = "/batches"
RECEIPT_PATH = "/notifications/letter/receipts"
RETURNED_PATH = "/notifications/letter/returned"
IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MANIFEST = "manifest.json"
POSTAGES = frozenset({"first", "second", "economy", "europe", "rest-of-world"})


@dataclass(frozen=True)
class BatchLetter:
    notification_id: str
    postage: str
    sheets: int
    pages: int
    pdf: bytes

    @property
    def file(self) -> str:
        return f"{self.notification_id}.pdf"


class MalformedBatch(ValueError):
    """An upload that does not follow the protocol."""


def build_archive(batch_id: str, created_at: datetime, letters: Sequence[BatchLetter]) -> bytes:
    manifest = {
        "batch_id": batch_id,
        "created_at": created_at.isoformat(),
        "letters": [
            {
                "notification_id": letter.notification_id,
                "postage": letter.postage,
                "sheets": letter.sheets,
                "pages": letter.pages,
                "file": letter.file,
            }
            for letter in letters
        ],
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(MANIFEST, json.dumps(manifest), compress_type=zipfile.ZIP_DEFLATED)
        for letter in letters:
            archive.writestr(letter.file, letter.pdf, compress_type=zipfile.ZIP_STORED)
    return buffer.getvalue()


def read_archive(data: bytes) -> tuple[dict[str, object], list[BatchLetter]]:
    """The manifest and its letters, checked: every letter has a known postage and its PDF is in the archive."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        manifest = json.loads(archive.read(MANIFEST))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise MalformedBatch(f"not a batch archive with a {MANIFEST}") from exc
    if not isinstance(manifest, dict) or not isinstance(manifest.get("letters"), list):
        raise MalformedBatch("manifest has no letters")
    letters = []
    with archive:
        names = set(archive.namelist())
        for entry in manifest["letters"]:
            try:
                letter = BatchLetter(
                    notification_id=str(entry["notification_id"]),
                    postage=str(entry["postage"]),
                    sheets=int(entry["sheets"]),
                    pages=int(entry["pages"]),
                    pdf=b"",
                )
                file = str(entry["file"])
            except (KeyError, TypeError, ValueError) as exc:
                raise MalformedBatch(
                    "a manifest entry lacks notification_id, postage, sheets, pages or file"
                ) from exc
            if letter.postage not in POSTAGES:
                raise MalformedBatch(f"unknown postage {letter.postage!r}")
            if file not in names:
                raise MalformedBatch(f"{file} is not in the archive")
            pdf = archive.read(file)
            if not pdf.startswith(b"%PDF-"):
                raise MalformedBatch(f"{file} is not a PDF")
            letters.append(
                BatchLetter(letter.notification_id, letter.postage, letter.sheets, letter.pages, pdf)
            )
    if not letters:
        raise MalformedBatch("manifest has no letters")
    return manifest, letters
