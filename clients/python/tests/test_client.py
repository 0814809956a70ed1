"""The sync and async clients against a real ``tollgate serve`` (its built-in example config)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator, List, Tuple

import pytest
from tollgate import (
    AsyncTollgate,
    AuthenticationError,
    Decision,
    InvalidRequestError,
    Tollgate,
)
from tollgate_fixtures import TollgateServer, parse_structured


@pytest.fixture
def client(tollgate_server: TollgateServer) -> Iterator[Tollgate]:
    # A generous timeout: these tests are about behaviour, on a machine shared with other suites.
    with Tollgate(tollgate_server.url, tollgate_server.service_token, timeout=5) as tollgate:
        yield tollgate


# --- the four use cases through the client ------------------------------------------------


def test_case1_per_user_hourly_budget_then_429_facts(client: Tollgate, fresh: str) -> None:
    user = f"u-{fresh}"
    decisions = [client.check({"user": user}, category="ops_triage") for _ in range(21)]
    assert all(d.allowed for d in decisions[:20])
    first = decisions[0]
    assert first.decision_id and not first.degraded
    assert first.limits[0].name == "llm-hour" and first.limits[0].remaining == 19
    denied = decisions[20]
    assert not denied.allowed and denied.reason == "limit_exceeded"
    assert denied.retry_after is not None and 1 <= denied.retry_after <= 3600
    assert denied.headers["Retry-After"] == str(denied.retry_after)
    assert parse_structured(denied.headers["RateLimit"])["llm-hour"]["r"] == "0"
    # Another user is not affected (the budget is per user, not shared).
    assert client.check({"user": f"other-{fresh}"}, category="ops_triage").allowed


def test_case1_scope_missing_is_forbidden_and_counts_nothing(client: Tollgate, fresh: str) -> None:
    user = f"agent-{fresh}"
    forbidden = client.check({"user": user}, category="ops_triage", scopes=["read"])
    assert not forbidden.allowed and forbidden.reason == "forbidden"
    assert client.usage({"user": user}, category="ops_triage").limits[0].used == 0


def test_case2_monitor_never_blocks_and_crosses_once_per_window(client: Tollgate, fresh: str) -> None:
    org = f"org-{fresh}"
    decisions = [client.check({"org": org}, category="llm_call") for _ in range(20)]
    assert all(d.allowed for d in decisions)
    crossings = [i for i, d in enumerate(decisions) if d.crossed]
    assert crossings == [15], "the 16th request crosses the threshold of 15, and only it"
    crossed = decisions[15].crossed[0]
    assert (crossed.name, crossed.subject, crossed.limit, crossed.mode) == ("org-minute", f"org:{org}", 15, "monitor")
    assert crossed.alert == "ops"
    # collections' threshold is 3, counted separately per category.
    collections = [client.check({"org": org}, category="collections") for _ in range(4)]
    assert [d.crossed != () for d in collections] == [False, False, False, True]


def test_case3_key_tiers_minute_rate_monthly_quota_and_invalid_keys(
    client: Tollgate, tollgate_server: TollgateServer
) -> None:
    key = tollgate_server.create_key("free")
    decisions = [client.check({"apiKey": key["secret"]}) for _ in range(11)]
    assert all(d.allowed for d in decisions[:10])
    assert decisions[0].plan == "free" and decisions[0].key_id == key["id"]
    assert {s.name for s in decisions[0].limits} == {"minute", "month"}
    assert decisions[10].reason == "limit_exceeded" and decisions[10].retry_after <= 60

    # A per-key override: a monthly allowance of 2; the third call is refused until next month.
    small = tollgate_server.create_key(
        "free", overrides=[{"name": "month", "per": "key", "algorithm": "quota", "limit": 2, "period": "month"}]
    )
    monthly = [client.check({"apiKey": small["secret"]}) for _ in range(3)]
    assert [d.allowed for d in monthly] == [True, True, False]
    assert monthly[2].reason == "quota_exceeded" and monthly[2].retry_after > 60
    status = client.usage({"apiKey": small["secret"]})
    assert status.plan == "free" and status.key_id == small["id"]
    assert {(u.name, u.used) for u in status.limits} == {("minute", 2), ("month", 2)}, "the denial spent nothing"

    revoked = tollgate_server.create_key("free")
    tollgate_server.admin("DELETE", f"/v1/admin/keys/{revoked['id']}")
    for secret in (revoked["secret"], "tg_live_not-a-key"):
        decision = client.check({"apiKey": secret})
        assert not decision.allowed and decision.reason == "invalid_key"


def test_case4_daily_quotas_byok_and_usage_peek(client: Tollgate, fresh: str) -> None:
    ip, user = f"203.0.113.{fresh}", f"user-{fresh}"
    assert client.usage({"ip": ip}, category="generate").tightest().used == 0
    anonymous = [client.check({"ip": ip}, category="generate") for _ in range(2)]
    assert [d.allowed for d in anonymous] == [True, False]
    assert anonymous[1].retry_after > 0 and anonymous[1].headers["Retry-After"]
    signed_in = [client.check({"user": user, "ip": ip}, category="generate") for _ in range(4)]
    assert [d.allowed for d in signed_in] == [True, True, True, False]
    assert signed_in[0].plan == "signed-in"
    byok = client.check({"user": user}, category="generate", byok=True)
    assert byok.allowed, "bring-your-own-key bypasses the daily quota"
    peek = [client.usage({"user": user}, category="generate") for _ in range(3)]
    assert {(p.tightest().used, p.tightest().limit) for p in peek} == {(3, 3)}, "peeking never charges"


def test_dry_run_and_batch(client: Tollgate, fresh: str) -> None:
    user = f"batch-{fresh}"
    assert client.check({"user": user}, category="ops_triage", dry_run=True).limits[0].remaining == 20
    decisions = client.check_batch(
        [
            {"subject": {"user": user}, "category": "ops_triage"},
            {"subject": {"org": f"o-{fresh}"}, "category": "llm_call"},
        ]
    )
    assert [d.allowed for d in decisions] == [True, True]
    assert decisions[0].limits[0].remaining == 19 and decisions[1].limits[0].name == "org-minute"


def test_settle_a_decision_and_a_degraded_one(client: Tollgate, fresh: str) -> None:
    decision = client.check({"user": f"s-{fresh}"}, category="ops_triage")
    assert client.settle(decision, 1).settled
    assert not client.settle(Decision.unavailable(True), 5).settled, "nothing to settle, no call"
    with pytest.raises(InvalidRequestError) as caught:
        client.settle("d_forged.signature", 3)
    assert caught.value.field == "decisionId"


# --- bad input: a clear error naming the field, nothing counted ---------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"cost": -1}, "cost"),
        ({"category": "not a name!"}, "category"),
        ({"subject": {"user": ""}}, "subject.user"),
        ({"subject": {"user": "x", "nickname": "y"}}, "subject"),
        ({"category": "no_such_category"}, "category"),
    ],
)
def test_bad_input_raises_naming_the_field(client: Tollgate, fresh: str, kwargs: dict, field: str) -> None:
    subject = kwargs.pop("subject", {"user": f"bad-{fresh}"})
    with pytest.raises(InvalidRequestError) as caught:
        client.check(subject, **{"category": "ops_triage", **kwargs})
    assert caught.value.status == 400
    assert caught.value.field is not None and caught.value.field.startswith(field)
    assert field in str(caught.value)
    assert client.usage({"user": f"bad-{fresh}"}, category="ops_triage").limits[0].used == 0


def test_bad_batch_entry_names_its_index_and_counts_nothing(client: Tollgate, fresh: str) -> None:
    user = f"bb-{fresh}"
    with pytest.raises(InvalidRequestError) as caught:
        client.check_batch(
            [{"subject": {"user": user}, "category": "ops_triage"}, {"subject": {"user": user}, "cost": -5}]
        )
    assert caught.value.field is not None and "1" in caught.value.field and "cost" in caught.value.field
    with pytest.raises(InvalidRequestError) as unknown:
        client.check_batch([{"subject": {"user": user}, "dryRun": True}])
    assert unknown.value.field == "requests[0].dryRun"
    assert client.usage({"user": user}, category="ops_triage").limits[0].used == 0


def test_subject_none_values_are_dropped_and_a_non_mapping_is_refused(client: Tollgate, fresh: str) -> None:
    assert client.check({"user": f"n-{fresh}", "org": None}, category="ops_triage").allowed
    with pytest.raises(InvalidRequestError) as caught:
        client.check("u-42", category="ops_triage")  # type: ignore[arg-type]
    assert caught.value.field == "subject"


def test_a_wrong_token_raises_instead_of_failing_open(tollgate_server: TollgateServer) -> None:
    with Tollgate(tollgate_server.url, "not-the-token-0123456789", timeout=5) as wrong:
        with pytest.raises(AuthenticationError) as caught:
            wrong.check({"user": "u"})
    assert caught.value.status == 401
    assert "not-the-token" not in str(caught.value)


# --- fail open: server down, slow, or failing ---------------------------------------------


def test_server_stopped_fails_open_fast_and_measured(own_server: TollgateServer) -> None:
    tollgate = Tollgate(own_server.url, own_server.service_token)  # default timeout 0.1 s
    closed = Tollgate(own_server.url, own_server.service_token, fail_open=False)
    assert tollgate.check({"user": "before"}, category="ops_triage").degraded is False
    own_server.stop()
    started = time.perf_counter()
    decision = tollgate.check({"user": "during"}, category="ops_triage")
    elapsed = time.perf_counter() - started
    print(f"\nfail-open decision while the server is stopped: {elapsed * 1000:.1f} ms (timeout 100 ms)")
    assert decision.allowed and decision.degraded and decision.reason == "store_unavailable"
    assert decision.headers == {} and decision.decision_id is None
    assert elapsed < 1.0, "a stopped server must not hold the request (timeout 0.1 s)"
    denied = closed.check({"user": "during"}, category="ops_triage")
    assert not denied.allowed and denied.degraded and denied.reason == "store_unavailable"
    assert tollgate.usage({"user": "during"}).degraded
    assert tollgate.check_batch([{"subject": {"user": "a"}}, {"subject": {"user": "b"}}]) == [
        Decision.unavailable(True),
        Decision.unavailable(True),
    ]
    # The pool recovers by itself once the server is back (its first answers may take longer than
    # 0.1 s on a loaded machine, so allow a few attempts).
    own_server.start()
    assert any(not tollgate.check({"user": "after"}, category="ops_triage").degraded for _ in range(50))
    tollgate.close()
    closed.close()


def test_server_slower_than_the_timeout_fails_open_within_it(hanging_port: int) -> None:
    url = f"http://127.0.0.1:{hanging_port}"
    with Tollgate(url, "token-0123456789", timeout=0.1) as tollgate:
        started = time.perf_counter()
        decision = tollgate.check({"user": "slow"})
        elapsed = time.perf_counter() - started
    print(f"\nfail-open decision from a server that never answers: {elapsed * 1000:.1f} ms (timeout 100 ms)")
    assert decision.allowed and decision.degraded and decision.reason == "store_unavailable"
    assert 0.09 <= elapsed < 1.0

    async def slow_async() -> List[Tuple[Decision, float]]:
        timed = []
        async with AsyncTollgate(url, "token-0123456789", timeout=0.1, fail_open=False) as tollgate:
            for _ in range(2):  # the first call also pays one-time lazy imports
                started = time.perf_counter()
                decision = await tollgate.check({"user": "slow"})
                timed.append((decision, time.perf_counter() - started))
        return timed

    timed = asyncio.run(slow_async())
    print(
        "async fail-closed decisions from a server that never answers: "
        + ", ".join(f"{elapsed * 1000:.1f} ms" for _, elapsed in timed)
        + " (timeout 100 ms, for the whole call)"
    )
    for decision, elapsed in timed:
        assert not decision.allowed and decision.degraded and 0.09 <= elapsed < 1.0


class _Canned(BaseHTTPRequestHandler):
    status = 200
    body = b""

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(self.status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def do_GET(self) -> None:  # noqa: N802
        self.send_response(self.status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


def _canned(status: int, body: object) -> ThreadingHTTPServer:
    handler = type("Handler", (_Canned,), {"status": status, "body": json.dumps(body).encode()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_a_5xx_or_garbage_answer_degrades_instead_of_raising() -> None:
    for status, body in [(503, {"title": "Unavailable"}), (500, "oops"), (200, {"unexpected": True})]:
        server = _canned(status, body)
        try:
            with Tollgate(f"http://127.0.0.1:{server.server_port}", "t" * 20, timeout=2, fail_open=False) as tollgate:
                decision = tollgate.check({"user": "u"})
            assert (decision.allowed, decision.degraded, decision.reason) == (False, True, "store_unavailable")
        finally:
            server.shutdown()


def test_unknown_fields_and_reasons_from_a_newer_server_are_tolerated() -> None:
    server = _canned(
        200,
        {
            "allowed": False,
            "reason": "some_future_reason",
            "decisionId": "d_1",
            "limits": [{"name": "x", "subject": "user:u", "limit": 1, "remaining": 0, "newField": 1}],
            "headers": {},
            "brandNew": {"nested": True},
        },
    )
    try:
        with Tollgate(f"http://127.0.0.1:{server.server_port}", "t" * 20, timeout=2) as tollgate:
            decision = tollgate.check({"user": "u"})
        assert decision.reason == "some_future_reason" and not decision.degraded
        assert decision.raw["brandNew"] == {"nested": True} and decision.limits[0].remaining == 0
    finally:
        server.shutdown()


# --- the async twin --------------------------------------------------------------------


def test_async_client_same_answers(tollgate_server: TollgateServer, fresh: str) -> None:
    async def scenario() -> None:
        async with AsyncTollgate(tollgate_server.url, tollgate_server.service_token, timeout=5) as tollgate:
            ip = f"198.51.100.{fresh}"
            decisions = await asyncio.gather(*(tollgate.check({"ip": ip}, category="generate") for _ in range(5)))
            assert sorted(d.allowed for d in decisions) == [False, False, False, False, True], "exactly one per day"
            usage = await tollgate.usage({"ip": ip}, category="generate")
            assert usage.tightest().used == 1
            batch = await tollgate.check_batch([{"subject": {"ip": ip}, "category": "generate", "byok": True}])
            assert batch[0].allowed
            assert (await tollgate.settle(decisions[0].decision_id, 1)).settled in (True, False)
            with pytest.raises(InvalidRequestError) as caught:
                await tollgate.check({"ip": ip}, cost=-1)
            assert caught.value.field == "cost"

    asyncio.run(scenario())


def test_sync_connections_are_kept_alive_with_tcp_nodelay(client: Tollgate, fresh: str) -> None:
    """One connection serves every sequential call; without TCP_NODELAY, Nagle would hold the body
    of every POST up to 40 ms behind its headers."""
    import socket

    for _ in range(10):
        client.check({"user": f"nd-{fresh}"}, category="ops_triage")
        client.usage({"user": f"nd-{fresh}"}, category="ops_triage")
    pool = client._http._transport._pool  # type: ignore[attr-defined]
    assert len(pool.connections) == 1, "keep-alive: one pooled connection for 20 sequential calls"
    sockets = [c._connection._network_stream.get_extra_info("socket") for c in pool.connections]
    assert sockets and all(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) for s in sockets)


def test_async_connections_are_kept_alive(tollgate_server: TollgateServer, fresh: str) -> None:
    async def scenario() -> int:
        async with AsyncTollgate(tollgate_server.url, tollgate_server.service_token, timeout=5) as tollgate:
            for _ in range(10):
                await tollgate.check({"user": f"ka-{fresh}"}, category="ops_triage")
            return len(tollgate._http._transport._pool.connections)  # type: ignore[attr-defined]

    assert asyncio.run(scenario()) == 1


def test_the_openapi_document_describes_what_the_client_sends(tollgate_server: TollgateServer) -> None:
    """A generated client (docs/clients.md) and this one agree with the running server."""
    import httpx

    document = httpx.get(tollgate_server.url + "/openapi.json", timeout=10).json()
    assert document["openapi"].startswith("3.1")
    schemas = document["components"]["schemas"]
    check = schemas["CheckRequest"]["properties"]
    assert {"subject", "category", "plan", "cost", "byok", "dryRun", "scopes"} <= set(check)
    subject = check["subject"]["properties"] if "properties" in check["subject"] else None
    if subject is not None:
        assert {"user", "org", "project", "ip", "key", "apiKey"} <= set(subject)
    assert {"allowed", "decisionId", "limits", "headers"} <= set(schemas["Decision"]["properties"])
    assert "/v1/usage" in document["paths"] and "/v1/check/batch" in document["paths"]


def test_settle_replaces_the_estimate_once(client: Tollgate, tollgate_server: TollgateServer, fresh: str) -> None:
    from tollgate import ConflictError

    category = f"py-tokens-{fresh}"
    tollgate_server.admin(
        "PUT",
        f"/v1/admin/categories/{category}",
        {"limits": [{"name": "tokens", "per": "user", "algorithm": "fixed-window", "limit": 1000, "window": "1h", "unit": "tokens"}]},
    )
    user = {"user": f"t-{fresh}"}
    decision = client.check(user, category=category, cost=500)
    assert decision.allowed and decision.limits[0].remaining == 500
    settled = client.settle(decision, 120)
    assert (settled.settled, settled.delta, settled.applied) == (True, -380, True)
    assert client.usage(user, category=category).limits[0].used == 120
    with pytest.raises(ConflictError) as twice:
        client.settle(decision.decision_id, 130)
    assert twice.value.status == 409
    assert client.usage(user, category=category).limits[0].used == 120, "the second settle changed nothing"


def test_the_package_depends_on_httpx_alone_and_ships_py_typed() -> None:
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    project = tomllib.loads((root / "pyproject.toml").read_text())
    assert [d.split(">")[0] for d in project["project"]["dependencies"]] == ["httpx"]
    assert set(project["project"]["optional-dependencies"]) == {"fastapi", "redis"}
    assert "py.typed" in project["tool"]["setuptools"]["package-data"]["tollgate"]
    assert (root / "src" / "tollgate" / "py.typed").exists()


def test_an_outage_is_logged_without_flooding(hanging_port: int, tollgate_server: TollgateServer, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    with caplog.at_level(logging.WARNING, logger="tollgate"):
        with Tollgate(f"http://127.0.0.1:{hanging_port}", "token-0123456789", timeout=0.05) as down:
            for _ in range(5):
                down.check({"user": "u"})
        with Tollgate(tollgate_server.url, tollgate_server.service_token, timeout=5) as up:
            up.check({"user": "u"})
            up.check({"user": "u"})
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "Tollgate /v1/check unavailable: timed out (ReadTimeout) (allowing: fail open)",
        "Tollgate answers again (4 more calls were degraded)",
    ]


def test_usage_of_an_invalid_key_is_an_answer_not_an_error() -> None:
    """Whether a server refuses a subject's key on /v1/usage with a problem or in the body."""
    refusals = [
        (401, {"title": "Invalid API key", "status": 401, "detail": "unknown key", "reason": "invalid_key"}),
        (200, {"limits": [], "reason": "invalid_key"}),
    ]
    for status, body in refusals:
        server = _canned(status, body)
        try:
            with Tollgate(f"http://127.0.0.1:{server.server_port}", "t" * 20, timeout=2) as tollgate:
                usage = tollgate.usage({"apiKey": "tg_live_unknown"})
            assert (usage.reason, usage.limits, usage.degraded) == ("invalid_key", (), False)
        finally:
            server.shutdown()
    server = _canned(401, {"title": "Unauthorized", "status": 401, "detail": "Missing or unknown token."})
    try:
        with Tollgate(f"http://127.0.0.1:{server.server_port}", "t" * 20, timeout=2) as tollgate:
            with pytest.raises(AuthenticationError):
                tollgate.usage({"user": "u"})
    finally:
        server.shutdown()


def test_with_the_tokens_the_first_start_prints() -> None:
    """As a user does: `tollgate serve` with no token settings prints a service token; use it."""
    from tollgate_fixtures import _start_server

    server = _start_server(printed_tokens=True)
    try:
        assert server.service_token != "py-service-token-0123456789abcdef"
        with Tollgate(server.url, server.service_token, timeout=5) as tollgate:
            decision = tollgate.check({"user": "first-start"}, category="ops_triage")
        assert decision.allowed and not decision.degraded
        assert server.create_key("free")["plan"] == "free"
    finally:
        server.stop()
