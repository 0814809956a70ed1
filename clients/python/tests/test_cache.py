"""The result cache: keys, TTL, hit and age, force_refresh, single flight; memory and real Redis."""

from __future__ import annotations

import asyncio
import hashlib
import socket
from typing import Any, Callable, List

import pytest
from tollgate.cache import CachedResult, MemoryCache, NoCache, ResultCache, cache_key, normalise_url


class ManualClock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Counter:
    """A compute function that counts its calls and can be held until released."""

    def __init__(self) -> None:
        self.calls = 0
        self.gate = asyncio.Event()
        self.gate.set()

    async def __call__(self) -> dict:
        self.calls += 1
        await self.gate.wait()
        return {"title": "scraped", "call": self.calls}


def test_keys_are_sha256_of_the_normalised_input() -> None:
    url = "https://example.com/page?a=1"
    assert cache_key("scrape", url) == "scrape:" + hashlib.sha256(url.encode()).hexdigest()
    same = ["  HTTPS://Example.COM:443/page?a=1#section ", "https://example.com/page?a=1"]
    assert len({cache_key("scrape", u) for u in same}) == 1
    assert cache_key("scrape", "https://example.com/page?a=2") != cache_key("scrape", url)
    assert cache_key("scrape", "https://example.com/Page?a=1") != cache_key("scrape", url), "paths are case-sensitive"
    assert normalise_url("http://Example.com") == "http://example.com/"
    assert normalise_url("http://example.com:8080/x") == "http://example.com:8080/x"
    assert cache_key("x", {"b": 1, "a": [1, 2]}) == cache_key("x", {"a": [1, 2], "b": 1})
    assert cache_key("a", url) != cache_key("b", url), "namespaces never collide"


def run(scenario: Callable[[], Any]) -> Any:
    return asyncio.run(scenario())


def test_hit_age_ttl_and_force_refresh_with_an_injected_clock() -> None:
    clock = ManualClock()

    async def scenario() -> List[CachedResult]:
        cache = ResultCache(MemoryCache(clock=clock), ttl=3600, namespace="scrape", clock=clock)
        compute = Counter()
        url = "https://example.com/a"
        results = [await cache.get_or_compute(url, compute)]
        clock.now += 125
        results.append(await cache.get_or_compute(" https://EXAMPLE.com/a#x", compute))
        results.append(await cache.get_or_compute(url, compute, force_refresh=True))
        clock.now += 10
        results.append(await cache.get_or_compute(url, compute))
        clock.now += 3600
        results.append(await cache.get_or_compute(url, compute))
        assert compute.calls == 3
        return results

    first, hit, forced, after_force, expired = run(scenario)
    assert (first.cache_hit, first.cache_age_seconds, first.value["call"]) == (False, 0.0, 1)
    assert (hit.cache_hit, hit.cache_age_seconds, hit.value["call"]) == (True, 125.0, 1)
    assert (forced.cache_hit, forced.value["call"]) == (False, 2), "force_refresh skips the cache"
    assert (after_force.cache_hit, after_force.cache_age_seconds, after_force.value["call"]) == (True, 10.0, 2)
    assert (expired.cache_hit, expired.value["call"]) == (False, 3), "an hour later the entry is gone"


def test_single_flight_computes_once_for_concurrent_callers() -> None:
    async def scenario() -> None:
        cache = ResultCache(MemoryCache(), ttl=60)
        compute = Counter()
        compute.gate.clear()
        tasks = [asyncio.create_task(cache.get_or_compute("https://example.com/slow", compute)) for _ in range(20)]
        await asyncio.sleep(0.01)
        assert compute.calls == 1
        compute.gate.set()
        results = await asyncio.gather(*tasks)
        assert compute.calls == 1
        assert {r.value["call"] for r in results} == {1}
        # Different inputs do not wait for each other.
        other = await cache.get_or_compute("https://example.com/other", compute)
        assert other.value["call"] == 2

    run(scenario)


def test_a_failing_compute_caches_nothing_and_fails_every_waiter() -> None:
    async def scenario() -> None:
        cache = ResultCache(MemoryCache(), ttl=60)
        gate = asyncio.Event()

        async def boom() -> None:
            await gate.wait()
            raise RuntimeError("upstream down")

        tasks = [asyncio.create_task(cache.get_or_compute("k", boom)) for _ in range(3)]
        await asyncio.sleep(0.01)
        gate.set()
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        assert all(isinstance(o, RuntimeError) for o in outcomes)
        result = await cache.get_or_compute("k", lambda: "fine")
        assert (result.value, result.cache_hit) == ("fine", False)

    run(scenario)


def test_memory_backend_is_bounded_lru() -> None:
    async def scenario() -> None:
        backend = MemoryCache(max_entries=2)
        cache = ResultCache(backend, ttl=60)
        for name in ("a", "b", "a", "c"):
            await cache.get_or_compute(name, lambda: name)
        assert len(backend) == 2
        assert (await cache.get_or_compute("a", lambda: "again")).cache_hit, "a was used recently"
        assert not (await cache.get_or_compute("b", lambda: "again")).cache_hit, "b was evicted"

    run(scenario)


def test_no_cache_backend_always_computes() -> None:
    async def scenario() -> None:
        cache = ResultCache(NoCache(), ttl=60)
        compute = Counter()
        results = [await cache.get_or_compute("x", compute) for _ in range(2)]
        assert [r.cache_hit for r in results] == [False, False] and compute.calls == 2

    run(scenario)


# --- Redis backend, against a real redis-server --------------------------------------------


def test_redis_backend_hit_age_force_refresh_and_expiry(redis_url: str) -> None:
    from tollgate.cache.redis import RedisCache

    clock = ManualClock()

    async def scenario() -> None:
        backend = RedisCache(redis_url, prefix="t1:")
        cache = ResultCache(backend, ttl=3600, namespace="scrape", clock=clock)
        compute = Counter()
        url = "https://example.com/redis"
        first = await cache.get_or_compute(url, compute)
        clock.now += 42.5
        hit = await cache.get_or_compute(url, compute)
        forced = await cache.get_or_compute(url, compute, force_refresh=True)
        assert (first.cache_hit, hit.cache_hit, hit.cache_age_seconds, hit.value) == (False, True, 42.5, first.value)
        assert (forced.cache_hit, forced.value["call"]) == (False, 2)
        # The value and its expiry are written in one command.
        from redis.asyncio import Redis

        raw = Redis.from_url(redis_url)
        ttl_ms = await raw.pttl("t1:" + cache.key(url))
        assert 3_500_000 < ttl_ms <= 3_600_000
        # A second process (another cache object) sees the same entry.
        other = ResultCache(RedisCache(redis_url, prefix="t1:"), ttl=3600, namespace="scrape", clock=clock)
        shared = await other.get_or_compute(url, compute)
        assert shared.cache_hit and shared.value["call"] == 2
        await raw.close()
        await backend.aclose()

    run(scenario)


def test_redis_single_flight_across_processes(redis_url: str) -> None:
    """Two caches (as two worker processes would have) compute a missing entry once."""
    from tollgate.cache.redis import RedisCache

    async def scenario() -> None:
        compute = Counter()
        compute.gate.clear()
        workers = [
            ResultCache(RedisCache(redis_url, prefix="t2:"), ttl=60, poll_interval=0.01) for _ in range(3)
        ]
        tasks = [asyncio.create_task(w.get_or_compute("https://example.com/once", compute)) for w in workers]
        for _ in range(500):  # until the leader computes (Redis round trips on a loaded machine)
            if compute.calls:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)  # the others have found the claim taken and are waiting
        assert compute.calls == 1
        compute.gate.set()
        results = await asyncio.gather(*tasks)
        assert compute.calls == 1
        assert sorted(r.cache_hit for r in results) == [False, True, True]
        assert {r.value["call"] for r in results} == {1}

    run(scenario)


def test_redis_down_degrades_to_computing() -> None:
    from tollgate.cache.redis import RedisCache

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def scenario() -> None:
        cache = ResultCache(RedisCache(f"redis://127.0.0.1:{port}/0"), ttl=60)
        compute = Counter()
        results = [await cache.get_or_compute("x", compute) for _ in range(2)]
        assert [r.cache_hit for r in results] == [False, False] and compute.calls == 2

    run(scenario)


@pytest.mark.parametrize("ttl", [0, -1])
def test_a_non_positive_ttl_is_refused(ttl: float) -> None:
    with pytest.raises(ValueError, match="ttl"):
        ResultCache(MemoryCache(), ttl=ttl)
