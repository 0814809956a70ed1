"""Use case 3 end to end: API keys on tiers, against a real `tollgate serve`."""

from __future__ import annotations

from pathlib import Path

import httpx
from api_tiers import create_app
from fastapi.testclient import TestClient
from tollgate import AsyncTollgate
from tollgate_fixtures import TollgateServer, parse_structured, start_example


def client_for(server: TollgateServer) -> AsyncTollgate:
    return AsyncTollgate(server.url, server.service_token, timeout=5)


def test_free_tier_minute_rate_with_headers_on_every_answer(tollgate_server: TollgateServer) -> None:
    key = tollgate_server.create_key("free")
    with TestClient(create_app(client_for(tollgate_server))) as http:
        answers = [http.get("/v1/things", headers={"authorization": f"Bearer {key['secret']}"}) for _ in range(11)]
    assert [a.status_code for a in answers] == [200] * 10 + [429]
    assert answers[0].json()["tier"] == "free"
    first = parse_structured(answers[0].headers["RateLimit"])
    assert first["minute"]["r"] == "9" and first["month"]["r"] == "999", "remaining calls and monthly remaining"
    assert int(first["minute"]["t"]) <= 60 and int(first["month"]["t"]) > 60, "reset times"
    assert "q=1000" in answers[0].headers["RateLimit-Policy"]
    denied = answers[10]
    assert denied.headers["content-type"] == "application/problem+json"
    assert 1 <= int(denied.headers["Retry-After"]) <= 60 and denied.json()["reason"] == "limit_exceeded"


def test_monthly_allowance_then_429_until_next_month_spending_nothing(tollgate_server: TollgateServer) -> None:
    # A per-key override (custom rule): an allowance of 3 calls this month.
    key = tollgate_server.create_key(
        "basic", overrides=[{"name": "month", "per": "key", "algorithm": "quota", "limit": 3, "period": "month"}]
    )
    headers = {"x-api-key": key["secret"]}
    with TestClient(create_app(client_for(tollgate_server))) as http:
        answers = [http.post("/v1/things", headers=headers) for _ in range(5)]
        status = http.get("/v1/status", headers=headers).json()
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    assert answers[3].json()["reason"] == "quota_exceeded"
    assert int(answers[3].headers["Retry-After"]) > 60, "seconds until the first of next month"
    assert status["tier"] == "basic"
    by_name = {item["name"]: item for item in status["limits"]}
    assert (by_name["month"]["used"], by_name["month"]["remaining"], by_name["month"]["limit"]) == (3, 0, 3)
    assert by_name["minute"]["used"] == 3, "the monthly denials spent nothing of the minute rate"


def test_unknown_revoked_and_missing_keys_are_401(tollgate_server: TollgateServer) -> None:
    revoked = tollgate_server.create_key("pro")
    tollgate_server.admin("DELETE", f"/v1/admin/keys/{revoked['id']}")
    with TestClient(create_app(client_for(tollgate_server))) as http:
        unknown = http.get("/v1/things", headers={"x-api-key": "tg_live_unknown"})
        gone = http.get("/v1/things", headers={"x-api-key": revoked["secret"]})
        missing = http.get("/v1/things")
        status = http.get("/v1/status", headers={"x-api-key": "tg_live_unknown"})
    assert unknown.status_code == 401 and unknown.json()["reason"] == "invalid_key"
    assert gone.status_code == 401
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert status.status_code == 401


def test_premium_tier_bursts_above_its_steady_rate(tollgate_server: TollgateServer) -> None:
    key = tollgate_server.create_key("pro")
    with TestClient(create_app(client_for(tollgate_server))) as http:
        status = http.get("/v1/status", headers={"x-api-key": key["secret"]}).json()
    minute = next(item for item in status["limits"] if item["name"] == "minute")
    assert minute["limit"] >= 200 and minute["remaining"] > 200, "a token bucket with burst capacity 400"


def test_starts_with_one_command(tollgate_server: TollgateServer) -> None:
    key = tollgate_server.create_key("enterprise")
    app = start_example(
        Path(__file__).with_name("api_tiers.py"),
        {
            "TOLLGATE_URL": tollgate_server.url,
            "TOLLGATE_SERVICE_TOKEN": tollgate_server.service_token,
            "TOLLGATE_TIMEOUT": "5",  # a loaded test machine must not turn checks into fail-opens
        },
    )
    try:
        answer = httpx.get(app.url + "/v1/things", headers={"authorization": f"Bearer {key['secret']}"})
    finally:
        app.stop()
    assert answer.status_code == 200 and answer.json()["tier"] == "enterprise"
    assert "RateLimit" in answer.headers
