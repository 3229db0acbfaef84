"""The ``email`` policy messages are built with: ``email.policy.default``, with a header factory that removes three
costs of building every message from scratch. The headers produced, and so the bytes sent, are the same.

* CPython's ``HeaderRegistry`` creates a new header *class* on every lookup (``type(...)`` in ``__getitem__``,
  called for every header set and again to check its ``max_count``); here each name's class is made once.
* The headers most messages share (the MIME structure's ``Content-Type``, ``Content-Transfer-Encoding``,
  ``MIME-Version``; a service's ``From`` and ``Reply-To``) are parsed once per distinct value and the same header
  object is reused: header objects are immutable, and ``Message`` replaces rather than changes them.
* Such a shared header is folded once per kind of output (what folding reads from the policy: its line length,
  line separator and ``utf8``), not once per message.
"""

from __future__ import annotations

import email.policy
from email.headerregistry import BaseHeader, HeaderRegistry
from functools import lru_cache
from typing import Any

SHARED = frozenset(
    {"content-type", "content-transfer-encoding", "mime-version", "from", "reply-to", "list-unsubscribe-post"}
)


class _Header(BaseHeader):
    """A header that, when shared, remembers how it folds."""

    def fold(self, *, policy: Any) -> str:
        folded: dict[tuple[Any, ...], str] | None = self.__dict__.get("_folded")
        if folded is None:  # not a shared header: folded once anyway
            return super().fold(policy=policy)  # type: ignore[no-any-return]
        key = (type(policy), policy.max_line_length, policy.linesep, policy.utf8)
        text = folded.get(key)
        if text is None:
            text = folded[key] = super().fold(policy=policy)
        return text


class HeaderFactory(HeaderRegistry):
    def __init__(self) -> None:
        super().__init__(base_class=_Header)
        self._classes: dict[str, type[BaseHeader]] = {}
        self._shared = lru_cache(maxsize=1024)(self._make_shared)

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        cls = self._classes.get(key)
        if cls is None:
            cls = self._classes[key] = super().__getitem__(name)
        return cls

    def map_to_type(self, name: str, cls: type[BaseHeader]) -> None:
        self._classes.pop(name.lower(), None)
        self._shared.cache_clear()
        super().map_to_type(name, cls)

    def __call__(self, name: str, value: Any) -> BaseHeader:
        if type(value) is str and name.lower() in SHARED:
            return self._shared(name, value)
        return super().__call__(name, value)  # type: ignore[no-any-return]

    def _make_shared(self, name: str, value: str) -> BaseHeader:
        header: BaseHeader = super().__call__(name, value)
        header._folded = {}  # type: ignore[attr-defined]
        return header


POLICY = email.policy.default.clone(header_factory=HeaderFactory())
