"""A keep-alive transport with TCP_NODELAY, whatever the installed httpx.

Why: the sync httpx of some distributions (httpcore < 0.17, e.g. Debian 12's) writes a POST's
headers and body in two sends without TCP_NODELAY. Nagle's algorithm then holds the body until
the server acknowledges the headers, which a server waiting for the full request delays by up to
40 ms: every decision would take 40 ms more. asyncio sockets already set TCP_NODELAY.
"""

from __future__ import annotations

import socket
from typing import Any

import httpx

_NODELAY = (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _NoDelayBackend:
    """Wraps httpcore's sync network backend, turning TCP_NODELAY on for every new connection."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def connect_tcp(self, *args: Any, **kwargs: Any) -> Any:
        stream = self._inner.connect_tcp(*args, **kwargs)
        sock = stream.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(*_NODELAY)
        return stream

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def sync_transport(limits: httpx.Limits) -> httpx.HTTPTransport:
    try:
        return httpx.HTTPTransport(limits=limits, socket_options=[_NODELAY])  # type: ignore[call-arg]
    except TypeError:  # httpx < 0.24 has no socket_options: wrap its pool's network backend
        transport = httpx.HTTPTransport(limits=limits)
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if backend is not None:
            pool._network_backend = _NoDelayBackend(backend)  # type: ignore[union-attr]
        return transport
