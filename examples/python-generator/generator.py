"""Use case 4: a generator that scrapes a URL and calls an LLM, with daily quotas and a cache.

- Anonymous callers get 1 generation per day, signed-in users 3 (plans ``anonymous`` and
  ``signed-in`` of the Tollgate server, category ``generate``); 429 with Retry-After beyond.
- A request carrying the caller's own provider key (``X-OpenAI-Key``) bypasses the quota. The key
  is used for that one request only: never stored, never logged.
- ``GET /api/usage`` answers ``{used, limit, reset}`` without consuming anything.
- Scrapes are cached for an hour under a SHA-256 of the URL; the answer says whether it was a
  cache hit and how old the entry is; ``force_refresh`` skips the cache.
- Without ``TOLLGATE_URL`` the limits are no-ops; without ``REDIS_URL`` the cache is in memory.

    TOLLGATE_URL=http://127.0.0.1:8080 TOLLGATE_SERVICE_TOKEN=... [REDIS_URL=redis://...] \\
        /usr/bin/python3 generator.py
"""

from __future__ import annotations

import logging
import os
import re
import sys
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Optional

try:
    import tollgate  # noqa: F401
except ImportError:  # run from a checkout, without `pip install ./clients/python`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "clients" / "python" / "src"))

import httpx
from fastapi import Depends, FastAPI, Request
from pydantic import BaseModel
from tollgate import AsyncTollgate, Unlimited
from tollgate.cache import MemoryCache, ResultCache
from tollgate.fastapi import install_problem_handler, limit, usage_route

logger = logging.getLogger("generator")

Scrape = Callable[[str], Awaitable[Dict[str, Any]]]
Generate = Callable[[Dict[str, Any], Optional[str]], Awaitable[str]]

PROVIDER_KEY_HEADER = "x-openai-key"


class GenerateRequest(BaseModel):
    url: str
    force_refresh: bool = False


def caller(request: Request) -> Dict[str, Optional[str]]:
    """Signed-in callers by user id (here from a header a session layer would set); others by IP."""
    return {"user": request.headers.get("x-user-id"), "ip": request.client.host if request.client else None}


async def scrape_page(url: str) -> Dict[str, Any]:
    """Fetches the page and keeps what the prompt needs (the expensive step the cache saves)."""
    async with httpx.AsyncClient(timeout=10, follow_redirects=True) as http:
        page = await http.get(url)
    title = re.search(r"<title[^>]*>(.*?)</title>", page.text, re.I | re.S)
    return {"url": str(page.url), "status": page.status_code, "title": title.group(1).strip() if title else None}


async def describe_page(page: Dict[str, Any], provider_key: Optional[str]) -> str:
    """Stands in for the LLM call (this example makes no call to a provider).

    A real app passes ``provider_key`` (the caller's own key, or None for the app's key) to its
    provider SDK here, for this one request only.
    """
    who = "your key" if provider_key else "our key"
    return f"A page titled {page.get('title')!r}, summarised with {who}."


def create_app(
    client: Any,
    cache: ResultCache,
    *,
    scrape: Scrape = scrape_page,
    generate: Generate = describe_page,
) -> FastAPI:
    app = FastAPI(title="generator (use case 4)")
    install_problem_handler(app)
    quota = limit(
        client,
        category="generate",
        subject=caller,
        byok=lambda request: bool(request.headers.get(PROVIDER_KEY_HEADER)),
    )

    @app.post("/api/generate", dependencies=[Depends(quota)])
    async def generate_from_url(body: GenerateRequest, request: Request) -> Dict[str, Any]:
        page = await cache.get_or_compute(body.url, lambda: scrape(body.url), force_refresh=body.force_refresh)
        text = await generate(page.value, request.headers.get(PROVIDER_KEY_HEADER))
        return {"text": text, "cache_hit": page.cache_hit, "cache_age_seconds": round(page.cache_age_seconds, 3)}

    app.get("/api/usage")(usage_route(client, category="generate", subject=caller))

    @app.get("/healthz")
    async def healthz() -> Dict[str, str]:
        return {"status": "ok"}

    return app


def from_env() -> FastAPI:
    url = os.environ.get("TOLLGATE_URL")
    client: Any = Unlimited()
    if url:
        timeout = float(os.environ.get("TOLLGATE_TIMEOUT", "0.1"))
        client = AsyncTollgate(url, os.environ["TOLLGATE_SERVICE_TOKEN"], timeout=timeout)
    else:
        logger.warning("TOLLGATE_URL is not set: daily quotas are off")
    backend: Any = MemoryCache()
    if os.environ.get("REDIS_URL"):
        from tollgate.cache.redis import RedisCache

        backend = RedisCache(os.environ["REDIS_URL"], prefix="generator:")
    return create_app(client, ResultCache(backend, ttl=3600, namespace="scrape"))


if __name__ == "__main__":
    import uvicorn

    logging.basicConfig(level=logging.INFO)
    uvicorn.run(from_env(), host="127.0.0.1", port=int(os.environ.get("PORT", "8000")))
