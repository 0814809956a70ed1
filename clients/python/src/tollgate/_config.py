"""Connection settings both clients build their httpx pool from."""

from __future__ import annotations

from typing import Dict

import httpx

from ._version import __version__


def timeout_of(seconds: float) -> httpx.Timeout:
    """``seconds`` bounds each phase: connecting, writing, reading, and waiting for a pooled connection."""
    return httpx.Timeout(seconds)


def pool_limits(max_connections: int) -> httpx.Limits:
    # Keep-alive: every connection stays open for reuse, so a decision costs one round trip.
    return httpx.Limits(
        max_connections=max_connections, max_keepalive_connections=max_connections, keepalive_expiry=30.0
    )


def default_headers(token: str) -> Dict[str, str]:
    return {
        "authorization": f"Bearer {token}",
        "user-agent": f"tollgate-python/{__version__}",
        "accept": "application/json",
    }


def normalise_base_url(base_url: str) -> str:
    return base_url.rstrip("/")
