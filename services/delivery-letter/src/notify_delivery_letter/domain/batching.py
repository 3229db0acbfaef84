"""How the letters of one collection are cut into print batches (each one upload)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def split_batches(letters: Sequence[tuple[T, int]], *, max_letters: int, max_bytes: int) -> list[list[T]]:
    """Cut ``(letter, pdf size)`` pairs, in order, into batches of at most ``max_letters`` letters and
    ``max_bytes`` bytes of PDF. A letter larger than ``max_bytes`` on its own still gets a batch."""
    batches: list[list[T]] = []
    current: list[T] = []
    size = 0
    for letter, pdf_size in letters:
        if current and (len(current) >= max_letters or size + pdf_size > max_bytes):
            batches.append(current)
            current, size = [], 0
        current.append(letter)
        size += pdf_size
    if current:
        batches.append(current)
    return batches
