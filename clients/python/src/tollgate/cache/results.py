"""``ResultCache``: expensive results (a scrape, an LLM answer) cached by a hash of their input."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, Generic, Optional, TypeVar, Union

from .backend import CacheBackend, Entry
from .keys import cache_key
from .memory import MemoryCache

logger = logging.getLogger("tollgate")

T = TypeVar("T")


@dataclass(frozen=True)
class CachedResult(Generic[T]):
    """A value and where it came from: ``cache_hit`` and ``cache_age_seconds`` (0 when just computed)."""

    value: T
    cache_hit: bool
    cache_age_seconds: float
    key: str


class ResultCache:
    """Caches the result of ``compute(input)`` for ``ttl`` seconds under a SHA-256 of the normalised input.

    >>> cache = ResultCache(MemoryCache(), ttl=3600, namespace="scrape")
    >>> result = await cache.get_or_compute(url, lambda: scrape(url), force_refresh=False)
    >>> result.value, result.cache_hit, result.cache_age_seconds

    Single flight: concurrent calls for the same missing input run ``compute`` once and share
    its result (in this process; with :class:`RedisCache`, across processes too). A failing
    ``compute`` caches nothing. A store that is down degrades to computing every time.
    """

    def __init__(
        self,
        backend: Optional[CacheBackend] = None,
        *,
        ttl: float = 3600,
        namespace: str = "results",
        clock: Callable[[], float] = time.time,
        peer_wait: float = 30.0,
        poll_interval: float = 0.05,
    ) -> None:
        if ttl <= 0:
            raise ValueError("ttl must be positive (seconds)")
        self.backend: CacheBackend = backend if backend is not None else MemoryCache(clock=clock)
        self.ttl = ttl
        self.namespace = namespace
        self._clock = clock
        self._peer_wait = peer_wait
        self._poll_interval = poll_interval
        self._flights: Dict[str, "asyncio.Future[CachedResult[Any]]"] = {}

    def key(self, value: Any) -> str:
        return cache_key(self.namespace, value)

    async def get_or_compute(
        self,
        value: Any,
        compute: Callable[[], Union[T, Awaitable[T]]],
        *,
        force_refresh: bool = False,
    ) -> CachedResult[T]:
        """The cached result for ``value``, or ``compute()``'s (stored for ``ttl``).

        ``force_refresh=True`` skips reading the cache and stores the fresh result.
        """
        key = self.key(value)
        if not force_refresh:
            hit = await self._fresh(key)
            if hit is not None:
                return hit
        flight = self._flights.get(key)
        if flight is not None:
            return await asyncio.shield(flight)
        flight = asyncio.get_running_loop().create_future()
        self._flights[key] = flight
        try:
            result = await self._lead(key, compute, force_refresh)
        except BaseException as error:
            flight.set_exception(error)
            flight.exception()  # followers re-raise it; mark it retrieved for the loop's logger
            raise
        else:
            flight.set_result(result)
            return result
        finally:
            del self._flights[key]

    async def _fresh(self, key: str, newer_than: float = float("-inf")) -> Optional[CachedResult[Any]]:
        try:
            entry = await self.backend.get(key)
        except Exception as error:  # the store is down: compute instead
            logger.warning("result cache read failed (%s); computing", type(error).__name__)
            return None
        if entry is None or entry.stored_at < newer_than:
            return None
        age = max(0.0, self._clock() - entry.stored_at)
        if age >= self.ttl:
            return None
        return CachedResult(value=entry.value, cache_hit=True, cache_age_seconds=age, key=key)

    async def _lead(self, key: str, compute: Callable[[], Any], force_refresh: bool) -> CachedResult[Any]:
        # A forced refresh only accepts a peer's entry stored after it started.
        newer_than = self._clock() if force_refresh else float("-inf")
        claimed = await self._claim(key)
        if not claimed:
            shared = await self._wait_for_peer(key, newer_than)
            if shared is not None:
                return shared
        try:
            value = compute()
            if inspect.isawaitable(value):
                value = await value
            entry = Entry(value=value, stored_at=self._clock())
            try:
                await self.backend.set(key, entry, self.ttl)
            except Exception as error:
                logger.warning("result cache write failed (%s); result not cached", type(error).__name__)
            return CachedResult(value=value, cache_hit=False, cache_age_seconds=0.0, key=key)
        finally:
            if claimed:
                try:
                    await self.backend.release(key)
                except Exception as error:
                    logger.warning("result cache release failed (%s)", type(error).__name__)

    async def _claim(self, key: str) -> bool:
        try:
            return await self.backend.claim(key, self._peer_wait)
        except Exception as error:
            logger.warning("result cache claim failed (%s); computing", type(error).__name__)
            return True

    async def _wait_for_peer(self, key: str, newer_than: float) -> Optional[CachedResult[Any]]:
        """Another process is computing ``key``: wait for its entry (up to ``peer_wait`` seconds)."""
        deadline = time.monotonic() + self._peer_wait
        while time.monotonic() < deadline:
            await asyncio.sleep(self._poll_interval)
            shared = await self._fresh(key, newer_than)
            if shared is not None:
                return shared
        return None
