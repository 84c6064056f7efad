"""The per-pod page cache: a bounded TTL map that reports nginx-style cache states.

Pure: time comes from an injectable clock, so tests step it by hand.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Final, Generic, TypeVar

MISS: Final = "MISS"
"""Not in the cache; the fresh answer is stored now."""
HIT: Final = "HIT"
"""Served from the cache."""
EXPIRED: Final = "EXPIRED"
"""In the cache but older than the TTL; the fresh answer replaces it."""
BYPASS: Final = "BYPASS"
"""The request asked not to use the cache (or is not cacheable); the cache is untouched."""

DEFAULT_MAX_ENTRIES = 100_000

V = TypeVar("V")


class PageCache(Generic[V]):
    """Cached pages keyed by anything hashable, fresh for ``ttl`` seconds.

    An entry is fresh while its age is below ``ttl``. When the cache holds
    ``max_entries`` entries, storing a new key evicts the entry stored longest ago.

    Args:
        ttl: seconds an entry stays fresh (0 means every lookup after the store is EXPIRED).
        max_entries: the bound on the number of entries (at least 1).
        clock: a callable returning monotonic seconds; ``time.monotonic`` by default.
    """

    __slots__ = ("_clock", "_entries", "max_entries", "ttl")

    def __init__(
        self,
        ttl: float,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._entries: dict[Hashable, tuple[float, V]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, key: Hashable) -> tuple[str, V | None]:
        """Look a page up.

        Args:
            key: the page key.

        Returns:
            ``(HIT, value)`` for a fresh entry, ``(EXPIRED, None)`` for a stale one,
            ``(MISS, None)`` when there is none. The caller stores the fresh page
            after a MISS or EXPIRED.
        """
        entry = self._entries.get(key)
        if entry is None:
            return MISS, None
        if self._clock() - entry[0] >= self.ttl:
            return EXPIRED, None
        return HIT, entry[1]

    def store(self, key: Hashable, value: V) -> None:
        """Store a fresh page, replacing any entry for the key.

        Args:
            key: the page key.
            value: the page.
        """
        entries = self._entries
        entries.pop(key, None)  # re-insert so dict order stays store order
        entries[key] = (self._clock(), value)
        if len(entries) > self.max_entries:
            del entries[next(iter(entries))]
