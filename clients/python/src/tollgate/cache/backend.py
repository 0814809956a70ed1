"""The storage contract a result cache writes to, and the no-op backend."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Protocol


@dataclass(frozen=True)
class Entry:
    """A cached value and when it was stored (seconds since the epoch, from the cache's clock)."""

    value: Any
    stored_at: float


class CacheBackend(Protocol):
    """Where entries live. Every method may raise on an unreachable store: the cache then
    degrades to computing (never failing the request)."""

    async def get(self, key: str) -> Optional[Entry]: ...

    async def set(self, key: str, entry: Entry, ttl: float) -> None: ...

    async def claim(self, key: str, ttl: float) -> bool:
        """Claims the right to compute ``key`` across processes; False when a peer holds it."""
        ...

    async def release(self, key: str) -> None: ...


class NoCache:
    """Caches nothing: the backend for an app with no store configured (every call computes)."""

    async def get(self, key: str) -> Optional[Entry]:
        return None

    async def set(self, key: str, entry: Entry, ttl: float) -> None:
        return None

    async def claim(self, key: str, ttl: float) -> bool:
        return True

    async def release(self, key: str) -> None:
        return None
