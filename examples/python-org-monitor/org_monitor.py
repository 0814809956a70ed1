"""Use case 2: per-organisation request rates on the expensive endpoints, monitored, never blocked.

Thresholds live in the Tollgate server (categories ``llm_call`` 15, ``collections`` 3 and
``evaluations`` 3 per organisation per minute, in monitor mode). Each endpoint declares one
dependency; when a window first crosses its threshold, ``alert`` is called once with the
organisation, category, count and threshold (the server also sends its own alert route).

    TOLLGATE_URL=http://127.0.0.1:8080 TOLLGATE_SERVICE_TOKEN=... /usr/bin/python3 org_monitor.py
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any, Callable, Dict

try:
    import tollgate  # noqa: F401
except ImportError:  # run from a checkout, without `pip install ./clients/python`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "clients" / "python" / "src"))

from fastapi import Depends, FastAPI, Request
from tollgate import AsyncTollgate, Decision, Unlimited
from tollgate.fastapi import limit

logger = logging.getLogger("org_monitor")

Alert = Callable[[Dict[str, Any]], Any]


def log_alert(alert: Dict[str, Any]) -> None:
    """Where their error tracker (and from it, the Discord channel) would be called."""
    logger.warning(
        "organisation %(organisation)s crossed %(threshold)s %(category)s requests per minute (count %(count)s)",
        alert,
    )


def create_app(client: Any, alert: Alert = log_alert) -> FastAPI:
    app = FastAPI(title="org monitor (use case 2)")

    def organisation(request: Request) -> Dict[str, Any]:
        # The key and the alert name the same tenant level: the organisation.
        return {"org": request.headers.get("x-org-id")}

    async def on_decision(request: Request, decision: Decision) -> None:
        for crossed in decision.crossed:
            alert(
                {
                    "organisation": crossed.subject.split(":", 1)[1],
                    "category": decision.category,
                    "count": crossed.used,
                    "threshold": crossed.limit,
                }
            )

    def monitored(category: str) -> Any:
        return Depends(limit(client, category=category, subject=organisation, monitor=True, on_decision=on_decision))

    @app.post("/api/llm/call", dependencies=[monitored("llm_call")])
    async def llm_call() -> Dict[str, str]:
        return {"answer": "..."}

    @app.post("/api/collections", dependencies=[monitored("collections")])
    async def collections() -> Dict[str, str]:
        return {"collection": "created"}

    @app.post("/api/evaluations", dependencies=[monitored("evaluations")])
    async def evaluations() -> Dict[str, str]:
        return {"evaluation": "queued"}

    @app.get("/healthz")
    async def healthz() -> Dict[str, str]:
        return {"status": "ok"}

    return app


def client_from_env() -> Any:
    """The Tollgate client from the environment; without ``TOLLGATE_URL``, monitoring is a no-op."""
    url = os.environ.get("TOLLGATE_URL")
    if not url:
        logger.warning("TOLLGATE_URL is not set: requests are not monitored")
        return Unlimited()
    return AsyncTollgate(url, os.environ["TOLLGATE_SERVICE_TOKEN"], timeout=float(os.environ.get("TOLLGATE_TIMEOUT", "0.1")))


if __name__ == "__main__":
    import uvicorn

    logging.basicConfig(level=logging.INFO)
    uvicorn.run(create_app(client_from_env()), host="127.0.0.1", port=int(os.environ.get("PORT", "8000")))
