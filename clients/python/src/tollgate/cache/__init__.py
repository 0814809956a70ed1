"""A cache of expensive results keyed by a SHA-256 of the normalised input.

Backends: :class:`MemoryCache` (this process), :class:`~tollgate.cache.redis.RedisCache`
(shared; needs the ``redis`` extra, imported from ``tollgate.cache.redis``), :class:`NoCache`.
"""

from .backend import CacheBackend, Entry, NoCache
from .keys import cache_key, normalise, normalise_url
from .memory import MemoryCache
from .results import CachedResult, ResultCache

__all__ = [
    "CacheBackend",
    "CachedResult",
    "Entry",
    "MemoryCache",
    "NoCache",
    "ResultCache",
    "cache_key",
    "normalise",
    "normalise_url",
]
