"""An in-process cache backend, bounded in entries (least recently used goes first)."""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Callable, Optional, Tuple

from .backend import Entry


class MemoryCache:
    """Entries in this process only; single flight across processes needs :class:`RedisCache`."""

    def __init__(self, max_entries: int = 10_000, clock: Callable[[], float] = time.time) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self._clock = clock
        self._entries: "OrderedDict[str, Tuple[Entry, float]]" = OrderedDict()

    async def get(self, key: str) -> Optional[Entry]:
        found = self._entries.get(key)
        if found is None:
            return None
        entry, expires_at = found
        if self._clock() >= expires_at:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry

    async def set(self, key: str, entry: Entry, ttl: float) -> None:
        self._entries[key] = (entry, entry.stored_at + ttl)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    async def claim(self, key: str, ttl: float) -> bool:
        # One process: the cache's in-process single flight is all the coordination needed.
        return True

    async def release(self, key: str) -> None:
        return None

    def __len__(self) -> int:
        return len(self._entries)
