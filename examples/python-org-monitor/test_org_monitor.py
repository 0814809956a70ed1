"""Use case 2 end to end: the FastAPI app, the Python client, a real `tollgate serve`."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Dict, List

import httpx
from fastapi.testclient import TestClient
from org_monitor import create_app
from tollgate import AsyncTollgate
from tollgate_fixtures import TollgateServer, start_example


def test_counts_per_org_and_category_never_blocks_and_alerts_once(tollgate_server: TollgateServer, fresh: str) -> None:
    alerts: List[Dict[str, Any]] = []
    client = AsyncTollgate(tollgate_server.url, tollgate_server.service_token, timeout=5)
    with TestClient(create_app(client, alert=alerts.append)) as http:
        acme = {"x-org-id": f"acme-{fresh}"}
        llm = [http.post("/api/llm/call", headers=acme).status_code for _ in range(20)]
        evaluations = [http.post("/api/evaluations", headers=acme).status_code for _ in range(5)]
        other = http.post("/api/evaluations", headers={"x-org-id": f"globex-{fresh}"}).status_code
    assert llm == [200] * 20 and evaluations == [200] * 5 and other == 200, "monitoring never blocks"
    assert alerts == [
        {"organisation": f"acme-{fresh}", "category": "llm_call", "count": 16, "threshold": 15},
        {"organisation": f"acme-{fresh}", "category": "evaluations", "count": 4, "threshold": 3},
    ], "one alert per organisation, category and window, when the count first crosses the threshold"


def test_server_down_the_request_proceeds_and_the_error_is_logged(hanging_port: int, caplog: Any) -> None:
    alerts: List[Dict[str, Any]] = []
    client = AsyncTollgate(f"http://127.0.0.1:{hanging_port}", "token-0123456789")
    with caplog.at_level(logging.WARNING, logger="tollgate"), TestClient(create_app(client, alert=alerts.append)) as http:
        answers = [http.post("/api/llm/call", headers={"x-org-id": "acme"}).status_code for _ in range(3)]
    assert answers == [200, 200, 200] and alerts == []
    assert "Tollgate /v1/check unavailable: timed out" in caplog.text


def test_starts_with_one_command(tollgate_server: TollgateServer, fresh: str) -> None:
    app = start_example(
        Path(__file__).with_name("org_monitor.py"),
        {
            "TOLLGATE_URL": tollgate_server.url,
            "TOLLGATE_SERVICE_TOKEN": tollgate_server.service_token,
            "TOLLGATE_TIMEOUT": "5",  # a loaded test machine must not turn checks into fail-opens
        },
    )
    try:
        for _ in range(4):
            assert httpx.post(app.url + "/api/collections", headers={"x-org-id": f"cmd-{fresh}"}).status_code == 200
    finally:
        app.stop()
    assert f"organisation cmd-{fresh} crossed 3 collections requests per minute (count 4)" in "".join(app.output)
