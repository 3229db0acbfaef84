"""Personalisation key matching: case, whitespace, ``_`` and ``-`` are ignored (``((First Name))`` ← ``first_name``)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

_IGNORED = dict.fromkeys(map(ord, "_-"), None)


_CACHEABLE_KEY_LENGTH = 64


def normalise_key(name: str) -> str:
    # The same few keys are normalised on every render, so short ones are cached; keys are client input, so
    # long ones are not (a cache must not become a way to pin memory).
    if len(name) <= _CACHEABLE_KEY_LENGTH:
        return _normalise_short_key(name)
    return _normalise(name)


@lru_cache(maxsize=4096)
def _normalise_short_key(name: str) -> str:
    return _normalise(name)


def _normalise(name: str) -> str:
    return "".join(name.translate(_IGNORED).split()).casefold()


def insensitive(values: Mapping[str, Any] | None) -> dict[str, Any]:
    """Copy of ``values`` keyed by :func:`normalise_key`; on a clash the first key in iteration order wins."""
    result: dict[str, Any] = {}
    for key, value in (values or {}).items():
        result.setdefault(normalise_key(key if isinstance(key, str) else str(key)), value)
    return result
