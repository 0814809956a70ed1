"""A Redis cache backend (needs the ``redis`` extra): entries shared by every process and host.

Values are stored as JSON, so they must be JSON-serialisable. Expiry is Redis' own (``PX``),
set atomically with the value. A claim key (``SET NX PX``) lets one process compute a missing
entry while the others wait for it: single flight across workers.
"""

from __future__ import annotations

import json
import secrets
from typing import Any, Dict, Optional

from redis.asyncio import Redis

from .backend import Entry

# Deletes the claim only if it is still ours (it may have expired and been taken by a peer).
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


class RedisCache:
    def __init__(self, client: Any, *, prefix: str = "tollgate:cache:") -> None:
        """``client`` is a ``redis.asyncio.Redis`` or a ``redis://`` URL."""
        if isinstance(client, str):
            # Short timeouts: an unreachable cache must cost little before the result is computed anyway.
            client = Redis.from_url(client, socket_timeout=1.0, socket_connect_timeout=1.0)
        self._redis: Redis = client
        self._prefix = prefix
        self._claims: Dict[str, str] = {}

    async def get(self, key: str) -> Optional[Entry]:
        raw = await self._redis.get(self._prefix + key)
        if raw is None:
            return None
        data = json.loads(raw)
        return Entry(value=data["v"], stored_at=float(data["t"]))

    async def set(self, key: str, entry: Entry, ttl: float) -> None:
        payload = json.dumps({"v": entry.value, "t": entry.stored_at}, separators=(",", ":"))
        await self._redis.set(self._prefix + key, payload, px=max(1, int(ttl * 1000)))

    async def claim(self, key: str, ttl: float) -> bool:
        token = secrets.token_hex(8)
        if await self._redis.set(self._prefix + "claim:" + key, token, nx=True, px=max(1, int(ttl * 1000))):
            self._claims[key] = token
            return True
        return False

    async def release(self, key: str) -> None:
        token = self._claims.pop(key, None)
        if token is not None:
            await self._redis.eval(_RELEASE, 1, self._prefix + "claim:" + key, token)

    async def aclose(self) -> None:
        # redis-py 5 renamed close() to aclose().
        close = getattr(self._redis, "aclose", None) or self._redis.close
        await close()
