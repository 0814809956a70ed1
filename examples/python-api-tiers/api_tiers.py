"""Use case 3: a SaaS API whose keys belong to tiers with per-minute rates and monthly allowances.

Keys, tiers (plans free / basic / pro / enterprise), per-key overrides, the usage ledger and the
admin views live in the Tollgate server; this app only asks it, once per request, with the
caller's raw key. The per-minute and monthly limits are decided together, so a request denied
by one spends neither. Unknown, revoked and expired keys are answered 401 in one place.

    TOLLGATE_URL=http://127.0.0.1:8080 TOLLGATE_SERVICE_TOKEN=... /usr/bin/python3 api_tiers.py
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any, Dict, Optional

try:
    import tollgate  # noqa: F401
except ImportError:  # run from a checkout, without `pip install ./clients/python`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "clients" / "python" / "src"))

from fastapi import Depends, FastAPI, HTTPException, Request
from tollgate import AsyncTollgate, Decision
from tollgate.fastapi import install_problem_handler, limit


def api_key_of(request: Request) -> Optional[str]:
    """The caller's key, from ``Authorization: Bearer <key>`` or ``X-Api-Key``."""
    authorization = request.headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        return authorization[7:].strip() or None
    return request.headers.get("x-api-key")


def require_key(request: Request) -> Dict[str, str]:
    key = api_key_of(request)
    if key is None:
        raise HTTPException(401, "Send your API key as `Authorization: Bearer <key>`.", {"WWW-Authenticate": "Bearer"})
    return {"apiKey": key}


def create_app(client: Any) -> FastAPI:
    app = FastAPI(title="API tiers (use case 3)")
    install_problem_handler(app)
    metered = limit(client, subject=require_key)

    @app.get("/v1/things")
    async def list_things(decision: Decision = Depends(metered)) -> Dict[str, Any]:
        return {"things": ["a", "b"], "tier": decision.plan}

    @app.post("/v1/things")
    async def create_thing(decision: Decision = Depends(metered)) -> Dict[str, Any]:
        return {"created": True}

    @app.get("/v1/status")
    async def status(request: Request) -> Dict[str, Any]:
        """Tier, limits, remaining and reset for the caller's key, without spending a call."""
        usage = await client.usage(require_key(request))
        if usage.reason == "invalid_key" or (usage.plan is None and not usage.degraded):
            raise HTTPException(401, "The API key is unknown, revoked or expired.")
        return {
            "tier": usage.plan,
            "limits": [
                {"name": u.name, "limit": u.limit, "used": u.used, "remaining": u.remaining, "reset": u.reset}
                for u in usage.limits
            ],
            **({"degraded": True} if usage.degraded else {}),
        }

    @app.get("/healthz")
    async def healthz() -> Dict[str, str]:
        return {"status": "ok"}

    return app


def client_from_env() -> AsyncTollgate:
    return AsyncTollgate(
        os.environ["TOLLGATE_URL"],
        os.environ["TOLLGATE_SERVICE_TOKEN"],
        timeout=float(os.environ.get("TOLLGATE_TIMEOUT", "0.1")),
        # A paid API: availability first, as in use cases 1 and 2; set TOLLGATE_FAIL_OPEN=false to refuse instead.
        fail_open=os.environ.get("TOLLGATE_FAIL_OPEN", "true") != "false",
    )


if __name__ == "__main__":
    import uvicorn

    logging.basicConfig(level=logging.INFO)
    uvicorn.run(create_app(client_from_env()), host="127.0.0.1", port=int(os.environ.get("PORT", "8000")))
