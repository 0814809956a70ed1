"""Use case 4 end to end: daily quotas, BYOK, usage peek and the scrape cache, against a real `tollgate serve`."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any, Dict, List

import httpx
from fastapi.testclient import TestClient
from generator import create_app
from tollgate import AsyncTollgate, Unlimited
from tollgate.cache import MemoryCache, ResultCache
from tollgate_fixtures import TollgateServer, start_example


class FakeScraper:
    def __init__(self) -> None:
        self.urls: List[str] = []

    async def __call__(self, url: str) -> Dict[str, Any]:
        self.urls.append(url)
        await asyncio.sleep(0)
        return {"url": url, "title": f"page {len(self.urls)}"}


class Clock:
    now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_anonymous_one_per_day_signed_in_three_byok_bypasses(tollgate_server: TollgateServer, fresh: str, caplog: Any) -> None:
    client = AsyncTollgate(tollgate_server.url, tollgate_server.service_token, timeout=5)
    app = create_app(client, ResultCache(MemoryCache()), scrape=FakeScraper())
    page = {"url": "https://example.com/"}
    signed_in = {"x-user-id": f"user-{fresh}"}
    with caplog.at_level(logging.DEBUG), TestClient(app) as http:
        anonymous = [http.post("/api/generate", json=page) for _ in range(2)]
        users = [http.post("/api/generate", json=page, headers=signed_in) for _ in range(4)]
        own_key = "sk-proj-caller-secret-0123456789"
        byok = http.post("/api/generate", json=page, headers={**signed_in, "x-openai-key": own_key})
    assert [a.status_code for a in anonymous] == [200, 429]
    assert 0 < int(anonymous[1].headers["Retry-After"]) <= 86_400
    assert anonymous[1].json()["reason"] == "limit_exceeded"
    assert [u.status_code for u in users] == [200, 200, 200, 429]
    assert users[0].headers["RateLimit"].startswith('"day";r=2;')
    assert byok.status_code == 200 and "your key" in byok.json()["text"]
    assert own_key not in caplog.text, "the provider key is never logged"


def test_usage_endpoint_peeks_without_consuming(tollgate_server: TollgateServer, fresh: str) -> None:
    client = AsyncTollgate(tollgate_server.url, tollgate_server.service_token, timeout=5)
    signed_in = {"x-user-id": f"peek-{fresh}"}
    with TestClient(create_app(client, ResultCache(MemoryCache()), scrape=FakeScraper())) as http:
        before = [http.get("/api/usage", headers=signed_in).json() for _ in range(3)]
        http.post("/api/generate", json={"url": "https://example.com/"}, headers=signed_in)
        after = http.get("/api/usage", headers=signed_in).json()
    assert {(b["used"], b["limit"]) for b in before} == {(0, 3)}
    assert (after["used"], after["limit"], after["remaining"]) == (1, 3, 2)
    assert 0 < after["reset"] <= 86_400


def test_scrapes_cached_for_an_hour_with_hit_age_and_force_refresh(tollgate_server: TollgateServer, fresh: str) -> None:
    clock = Clock()
    scraper = FakeScraper()
    cache = ResultCache(MemoryCache(clock=clock), ttl=3600, namespace="scrape", clock=clock)
    # BYOK so the quota does not get in the way of exercising the cache.
    headers = {"x-user-id": f"cache-{fresh}", "x-openai-key": "sk-own"}
    url = f"https://example.com/{fresh}"
    client = AsyncTollgate(tollgate_server.url, tollgate_server.service_token, timeout=5)
    with TestClient(create_app(client, cache, scrape=scraper)) as http:
        first = http.post("/api/generate", json={"url": url}, headers=headers).json()
        clock.now += 600
        other_page = http.post("/api/generate", json={"url": url + "/other"}, headers=headers).json()
        same_page = http.post("/api/generate", json={"url": url.replace("example.com", "EXAMPLE.com")}, headers=headers).json()
        forced = http.post("/api/generate", json={"url": url, "force_refresh": True}, headers=headers).json()
        clock.now += 3600
        expired = http.post("/api/generate", json={"url": url}, headers=headers).json()
    assert (first["cache_hit"], first["cache_age_seconds"]) == (False, 0)
    assert other_page["cache_hit"] is False, "a different path is a different page"
    assert (same_page["cache_hit"], same_page["cache_age_seconds"]) == (True, 600), "host names are case-insensitive"
    assert forced["cache_hit"] is False
    assert expired["cache_hit"] is False
    assert len(scraper.urls) == 4


def test_without_a_store_limits_and_cache_are_no_ops() -> None:
    from tollgate.cache import NoCache

    scraper = FakeScraper()
    with TestClient(create_app(Unlimited(), ResultCache(NoCache()), scrape=scraper)) as http:
        answers = [http.post("/api/generate", json={"url": "https://example.com/"}) for _ in range(3)]
        usage = http.get("/api/usage").json()
    assert [a.status_code for a in answers] == [200] * 3 and len(scraper.urls) == 3
    assert usage["limit"] is None


def test_starts_with_one_command_with_a_redis_cache(tollgate_server: TollgateServer, redis_url: str, fresh: str) -> None:
    app = start_example(
        Path(__file__).with_name("generator.py"),
        {
            "TOLLGATE_URL": tollgate_server.url,
            "TOLLGATE_SERVICE_TOKEN": tollgate_server.service_token,
            "TOLLGATE_TIMEOUT": "5",  # a loaded test machine must not turn checks into fail-opens
            "REDIS_URL": redis_url,
        },
    )
    try:
        usage = httpx.get(app.url + "/api/usage", headers={"x-user-id": f"cmd-{fresh}"})
        # The page to scrape: the app's own health endpoint (the only site reachable here).
        body = {"url": app.url + "/healthz"}
        answers = [httpx.post(app.url + "/api/generate", json=body, headers={"x-user-id": f"cmd-{fresh}"}) for _ in range(2)]
    finally:
        app.stop()
    assert usage.json()["limit"] == 3
    assert [a.status_code for a in answers] == [200, 200]
    assert [a.json()["cache_hit"] for a in answers] == [False, True]
