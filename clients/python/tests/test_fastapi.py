"""``tollgate.fastapi``: the dependency and the usage route, in a FastAPI app, against a real server."""

from __future__ import annotations

from typing import Iterator, Union

import pytest
from fastapi import Depends, FastAPI, Request
from fastapi.testclient import TestClient
from tollgate import AsyncTollgate, Decision, Tollgate
from tollgate.fastapi import install_problem_handler, limit, usage_route
from tollgate_fixtures import TollgateServer


def build_app(client: Union[Tollgate, AsyncTollgate], *, problems: bool = True) -> FastAPI:
    app = FastAPI()
    if problems:
        install_problem_handler(app)
    who = lambda request: {"user": request.headers.get("x-user"), "ip": request.client.host}  # noqa: E731
    triage = limit(client, category="ops_triage", subject=who, scopes=lambda r: r.headers.get("x-scopes", "llm").split(","))

    @app.post("/triage")
    def run_triage(decision: Decision = Depends(triage)) -> dict:
        return {"remaining": decision.limits[0].remaining if decision.limits else None}

    crossings = []
    app.state.crossings = crossings

    async def record(request: Request, decision: Decision) -> None:
        crossings.extend((s.subject, s.limit) for s in decision.crossed)

    monitor = limit(
        client,
        category="evaluations",
        subject=lambda request: {"org": request.headers["x-org"]},
        monitor=True,
        on_decision=record,
    )

    @app.post("/evaluate", dependencies=[Depends(monitor)])
    async def evaluate() -> dict:
        return {"ok": True}

    async def generator_subject(request: Request) -> dict:
        return {"user": request.headers.get("x-user"), "ip": request.headers.get("x-ip")}

    generate = limit(
        client,
        category="generate",
        subject=generator_subject,
        byok=lambda request: "x-openai-key" in request.headers,
    )

    @app.post("/generate", dependencies=[Depends(generate)])
    async def run_generate() -> dict:
        return {"generated": True}

    app.get("/usage")(usage_route(client, category="generate", subject=generator_subject))
    return app


@pytest.fixture(params=["sync", "async"])
def client(request: pytest.FixtureRequest, tollgate_server: TollgateServer) -> Iterator[Union[Tollgate, AsyncTollgate]]:
    kind = Tollgate if request.param == "sync" else AsyncTollgate
    yield kind(tollgate_server.url, tollgate_server.service_token, timeout=5)


def test_allowed_responses_carry_the_ratelimit_headers_then_429(client, fresh: str) -> None:
    with TestClient(build_app(client)) as http:
        answers = [http.post("/triage", headers={"x-user": fresh}) for _ in range(21)]
    first = answers[0]
    assert first.status_code == 200 and first.json() == {"remaining": 19}
    assert first.headers["RateLimit-Policy"] == '"llm-hour";q=20;w=3600'
    assert first.headers["RateLimit"].startswith('"llm-hour";r=19;t=')
    assert "retry-after" not in first.headers
    assert [a.status_code for a in answers[1:20]] == [200] * 19
    denied = answers[20]
    assert denied.status_code == 429
    assert denied.headers["content-type"] == "application/problem+json"
    retry_after = int(denied.headers["Retry-After"])
    assert 1 <= retry_after <= 3600
    assert denied.headers["RateLimit"].startswith('"llm-hour";r=0;t=')
    body = denied.json()
    assert body["status"] == 429 and body["reason"] == "limit_exceeded" and body["retryAfter"] == retry_after
    assert "llm-hour" in body["detail"]


def test_forbidden_is_403_and_counts_nothing(client, fresh: str) -> None:
    with TestClient(build_app(client)) as http:
        refused = http.post("/triage", headers={"x-user": fresh, "x-scopes": "read"})
        allowed = http.post("/triage", headers={"x-user": fresh})
    assert refused.status_code == 403 and refused.json()["reason"] == "forbidden"
    assert allowed.json() == {"remaining": 19}, "the 403 spent nothing"


def test_without_the_problem_handler_fastapi_wraps_the_problem_in_detail(client, fresh: str) -> None:
    with TestClient(build_app(client, problems=False)) as http:
        refused = http.post("/triage", headers={"x-user": fresh, "x-scopes": "read"})
    assert refused.status_code == 403 and refused.json()["detail"]["reason"] == "forbidden"


def test_monitor_mode_only_records_and_reports_the_crossing_once(client, fresh: str) -> None:
    app = build_app(client)
    with TestClient(app) as http:
        answers = [http.post("/evaluate", headers={"x-org": fresh}) for _ in range(6)]
    assert [a.status_code for a in answers] == [200] * 6, "monitor mode never blocks"
    assert all("ratelimit" not in a.headers for a in answers), "monitor limits add no headers"
    assert app.state.crossings == [(f"org:{fresh}", 3)], "one crossing of the threshold 3 in this window"


def test_case4_quota_byok_and_usage_route(client, fresh: str) -> None:
    anonymous = {"x-ip": f"ip-{fresh}"}
    signed_in = {"x-user": f"user-{fresh}", "x-ip": f"ip-{fresh}"}
    with TestClient(build_app(client)) as http:
        assert http.get("/usage", headers=anonymous).json()["used"] == 0
        assert [http.post("/generate", headers=anonymous).status_code for _ in range(2)] == [200, 429]
        peek = http.get("/usage", headers=anonymous).json()
        assert (peek["used"], peek["limit"], peek["remaining"], peek["plan"]) == (1, 1, 0, "anonymous")
        assert [http.post("/generate", headers=signed_in).status_code for _ in range(4)] == [200, 200, 200, 429]
        byok = http.post("/generate", headers={**signed_in, "x-openai-key": "sk-caller-own-key"})
        assert byok.status_code == 200, "the caller's own provider key bypasses the quota"
        usage = [http.get("/usage", headers=signed_in).json() for _ in range(3)]
    assert {(u["used"], u["limit"]) for u in usage} == {(3, 3)}, "the usage route never charges"
    assert usage[0]["reset"] > 0 and usage[0]["plan"] == "signed-in"


def test_an_invalid_identity_is_a_400_naming_the_field_not_a_500(client) -> None:
    with TestClient(build_app(client)) as http:
        answer = http.post("/triage", headers={"x-user": "u" * 300})
    assert answer.status_code == 400
    assert answer.json()["field"] == "subject.user"


def test_server_down_fails_open_in_the_dependency(hanging_port: int, fresh: str) -> None:
    url = f"http://127.0.0.1:{hanging_port}"
    for kind in (Tollgate, AsyncTollgate):
        with TestClient(build_app(kind(url, "token-0123456789"))) as http:
            answer = http.post("/triage", headers={"x-user": fresh})
            usage = http.get("/usage", headers={"x-user": fresh})
        assert answer.status_code == 200 and "ratelimit" not in answer.headers
        assert usage.status_code == 200 and usage.json()["degraded"] is True and usage.json()["limit"] is None
    with TestClient(build_app(Tollgate(url, "token-0123456789", fail_open=False))) as http:
        closed = http.post("/triage", headers={"x-user": fresh})
    assert closed.status_code == 503 and closed.json()["reason"] == "store_unavailable"


def test_cost_from_the_request_and_a_cost_that_can_never_fit(
    client, tollgate_server: TollgateServer, fresh: str
) -> None:
    category = f"py-llm-{fresh}"
    tollgate_server.admin(
        "PUT",
        f"/v1/admin/categories/{category}",
        {"limits": [{"name": "tokens", "per": "user", "algorithm": "fixed-window", "limit": 1000, "window": "1h", "unit": "tokens"}]},
    )
    app = FastAPI()
    install_problem_handler(app)
    tokens = limit(
        client,
        category=category,
        subject=lambda request: {"user": fresh},
        cost=lambda request: int(request.query_params["max_tokens"]),
    )

    @app.post("/chat")
    async def chat(decision: Decision = Depends(tokens)) -> dict:
        return {"remaining": decision.limits[0].remaining}

    with TestClient(app) as http:
        fits = http.post("/chat?max_tokens=600")
        too_big = http.post("/chat?max_tokens=5000")
        not_now = http.post("/chat?max_tokens=600")
    assert fits.status_code == 200 and fits.json() == {"remaining": 400}
    assert too_big.status_code == 429 and too_big.json()["reason"] == "cost_exceeds_limit"
    assert too_big.headers["x-should-retry"] == "false" and "retry-after" not in too_big.headers
    assert not_now.status_code == 429 and not_now.json()["reason"] == "limit_exceeded"
    assert int(not_now.headers["Retry-After"]) > 0
