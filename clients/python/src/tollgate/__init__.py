"""Tollgate for Python: rate limits and usage quotas decided by a Tollgate server.

``Tollgate`` / ``AsyncTollgate`` ask for decisions; ``tollgate.fastapi`` turns them into a
FastAPI dependency; ``tollgate.cache`` caches expensive results (memory or Redis).
"""

from ._version import __version__
from .aio import AsyncTollgate
from .client import Tollgate
from .errors import AuthenticationError, ConflictError, InvalidRequestError, TollgateError
from .models import CheckRequest, Decision, LimitStatus, SettleResult, Subject, Usage, UsageLimit
from .unlimited import Unlimited

__all__ = [
    "AsyncTollgate",
    "AuthenticationError",
    "CheckRequest",
    "ConflictError",
    "Decision",
    "InvalidRequestError",
    "LimitStatus",
    "SettleResult",
    "Subject",
    "Tollgate",
    "TollgateError",
    "Usage",
    "Unlimited",
    "UsageLimit",
    "__version__",
]
