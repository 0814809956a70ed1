"""Cache keys: a SHA-256 of the normalised input, so equivalent inputs share one entry."""

from __future__ import annotations

import hashlib
import json
from typing import Any
from urllib.parse import urlsplit, urlunsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalise_url(url: str) -> str:
    """``HTTPS://Example.com:443/a#top`` -> ``https://example.com/a``.

    Scheme and host are case-insensitive, a default port and the fragment never reach the
    server, and an empty path is ``/``. Path and query are kept as given (they may be
    case- and order-sensitive).
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if parts.port is not None and _DEFAULT_PORTS.get(scheme) != parts.port:
        host = f"{host}:{parts.port}"
    if parts.username or parts.password:
        host = f"{parts.username or ''}{':' + parts.password if parts.password else ''}@{host}"
    return urlunsplit((scheme, host, parts.path or "/", parts.query, ""))


def normalise(value: Any) -> str:
    """The canonical text of a cache input: URLs normalised, other text stripped, anything else as sorted JSON."""
    if isinstance(value, str):
        text = value.strip()
        return normalise_url(text) if "://" in text else text
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def cache_key(namespace: str, value: Any) -> str:
    """``namespace:<sha256 hex of the normalised input>``."""
    digest = hashlib.sha256(normalise(value).encode("utf-8")).hexdigest()
    return f"{namespace}:{digest}"
