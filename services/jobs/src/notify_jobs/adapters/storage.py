"""An upload's rows, kept in Postgres as normalised CSV split into chunks, written and read as streams.

Whatever the uploaded format, the checked rows are stored as UTF-8 CSV, so processing reads one format, a chunk at a
time: neither the upload nor the processing of a job ever holds a whole file in memory, and any replica can process
any job (no shared volume).
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Connection, Engine

from .tables import upload_chunks


class ChunkWriter(io.TextIOBase):
    """A text stream (for ``csv.writer``) that stores every ``chunk_bytes`` of UTF-8 as one row."""

    def __init__(self, conn: Connection, data_id: uuid.UUID, chunk_bytes: int) -> None:
        self._conn = conn
        self._data_id = data_id
        self._chunk_bytes = chunk_bytes
        self._buffer = bytearray()
        self._seq = 0
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:  # type: ignore[override]
        encoded = text.encode("utf-8")
        self._buffer += encoded
        self.size += len(encoded)
        if len(self._buffer) >= self._chunk_bytes:
            self._store(bytes(self._buffer))
            self._buffer.clear()
        return len(text)

    def _store(self, data: bytes) -> None:
        self._conn.execute(insert(upload_chunks).values(data_id=self._data_id, seq=self._seq, data=data))
        self._seq += 1

    def close(self) -> None:
        if not self.closed and self._buffer:
            self._store(bytes(self._buffer))
            self._buffer.clear()
        super().close()


class ChunkReader(io.RawIOBase):
    """The stored bytes, read one chunk (one small query) at a time. Given an engine, each chunk is read on a
    connection of its own, so a job being processed for minutes holds no transaction open between chunks."""

    def __init__(self, source: Connection | Engine, data_id: uuid.UUID) -> None:
        self._source = source
        self._data_id = data_id
        self._seq = 0
        self._current = memoryview(b"")
        self._done = False

    def readable(self) -> bool:
        return True

    def _chunk(self, seq: int) -> bytes | None:
        query = select(upload_chunks.c.data).where(
            upload_chunks.c.data_id == self._data_id, upload_chunks.c.seq == seq
        )
        if isinstance(self._source, Engine):
            with self._source.connect() as conn:
                return conn.execute(query).scalar()  # type: ignore[no-any-return]
        return self._source.execute(query).scalar()  # type: ignore[no-any-return]

    def readinto(self, target: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._current and not self._done:
            data = self._chunk(self._seq)
            if data is None:
                self._done = True
            else:
                self._current = memoryview(bytes(data))
                self._seq += 1
        n = min(len(target), len(self._current))
        target[:n] = self._current[:n]
        self._current = self._current[n:]
        return n


def stored_rows(source: Connection | Engine, data_id: uuid.UUID) -> Iterator[list[str]]:
    """Every stored row (header first), streamed."""
    text = io.TextIOWrapper(
        io.BufferedReader(ChunkReader(source, data_id), 256 * 1024), encoding="utf-8", newline=""
    )
    yield from csv.reader(text)


def writer(conn: Connection, data_id: uuid.UUID, chunk_bytes: int) -> tuple[ChunkWriter, Any]:
    stream = ChunkWriter(conn, data_id, chunk_bytes)
    # The default "\r\n" line ends matter: a cell holding a lone "\r" or "\n" is only quoted when its
    # character is part of the line terminator, and an unquoted one would split the row when read back.
    return stream, csv.writer(stream)


def forget(conn: Connection, data_id: uuid.UUID) -> None:
    conn.execute(delete(upload_chunks).where(upload_chunks.c.data_id == data_id))
