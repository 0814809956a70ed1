"""What the decision API answers, as typed, immutable values.

Parsing is tolerant: fields the server adds later are kept in ``raw`` and never break a parse,
and an unknown ``reason`` is passed through as a plain string.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple, TypedDict


class Subject(TypedDict, total=False):
    """Who a request is charged to; each limit picks the field its ``per`` names.

    ``apiKey`` is a raw key issued by Tollgate (verified by the server); ``key`` an opaque key
    id the calling app already verified. Fields set to ``None`` are dropped before sending, so
    ``{"org": request.headers.get("x-org")}`` is safe.
    """

    user: Optional[str]
    org: Optional[str]
    project: Optional[str]
    ip: Optional[str]
    key: Optional[str]
    apiKey: Optional[str]


class _CheckSubject(TypedDict):
    subject: Subject


class CheckRequest(_CheckSubject, total=False):
    """One entry of :meth:`Tollgate.check_batch`: the keyword arguments of ``check``."""

    category: str
    plan: str
    cost: int
    byok: bool
    dry_run: bool
    scopes: List[str]


#: Reasons the server gives today; others may be added, so compare against strings.
KNOWN_REASONS = (
    "limit_exceeded",
    "quota_exceeded",
    "cost_exceeds_limit",
    "subject_missing",
    "invalid_key",
    "forbidden",
    "store_unavailable",
)


@dataclass(frozen=True)
class LimitStatus:
    """One limit's state after a decision. ``reset`` and ``retry_after`` are seconds from now."""

    name: str
    subject: str
    mode: str
    limit: float
    used: float
    remaining: float
    reset: float
    window: float
    exceeded: bool
    crossed: bool = False
    """True the first time this request crossed the limit in its window: alert once on it."""
    retry_after: Optional[int] = None
    alert: Optional[str] = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LimitStatus:
        return cls(
            name=str(data.get("name", "")),
            subject=str(data.get("subject", "")),
            mode=str(data.get("mode", "enforce")),
            limit=data.get("limit", 0),
            used=data.get("used", 0),
            remaining=data.get("remaining", 0),
            reset=data.get("reset", 0),
            window=data.get("window", 0),
            exceeded=bool(data.get("exceeded", False)),
            crossed=data.get("crossed") is True,
            retry_after=data.get("retryAfter"),
            alert=data.get("alert"),
        )


@dataclass(frozen=True)
class Decision:
    """The answer to one ``check``.

    ``headers`` (``RateLimit-Policy``, ``RateLimit``, ``Retry-After``) are ready to copy onto
    the caller's own response. ``degraded`` is True when the decision was not made against the
    counters (the server or its store was unreachable) and ``allowed`` follows the fail mode.
    """

    allowed: bool
    reason: Optional[str] = None
    retry_after: Optional[int] = None
    limits: Tuple[LimitStatus, ...] = ()
    headers: Dict[str, str] = field(default_factory=dict)
    decision_id: Optional[str] = None
    """Pass to ``settle``; None for a degraded decision (there is nothing to settle)."""
    degraded: bool = False
    plan: Optional[str] = None
    category: Optional[str] = None
    key_id: Optional[str] = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    """The response body as received, including fields this client does not know yet."""

    @property
    def crossed(self) -> Tuple[LimitStatus, ...]:
        """Limits this request crossed for the first time in their window (monitor alerts)."""
        return tuple(status for status in self.limits if status.crossed)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Decision:
        headers = data.get("headers") or {}
        return cls(
            allowed=bool(data["allowed"]),
            reason=data.get("reason"),
            retry_after=data.get("retryAfter"),
            limits=tuple(LimitStatus.from_json(item) for item in data.get("limits") or ()),
            headers={str(name): str(value) for name, value in headers.items()},
            decision_id=data.get("decisionId"),
            degraded=data.get("degraded") is True,
            plan=data.get("plan"),
            category=data.get("category"),
            key_id=data.get("keyId"),
            raw=dict(data),
        )

    @classmethod
    def unavailable(cls, allowed: bool) -> Decision:
        """The decision given when the server could not be asked in time."""
        return cls(allowed=allowed, reason="store_unavailable", degraded=True)


@dataclass(frozen=True)
class UsageLimit:
    """One limit's counters as a usage peek sees them (nothing charged)."""

    name: str
    subject: str
    mode: str
    used: float
    limit: float
    remaining: float
    reset: float
    window: float

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> UsageLimit:
        return cls(
            name=str(data.get("name", "")),
            subject=str(data.get("subject", "")),
            mode=str(data.get("mode", "enforce")),
            used=data.get("used", 0),
            limit=data.get("limit", 0),
            remaining=data.get("remaining", 0),
            reset=data.get("reset", 0),
            window=data.get("window", 0),
        )


@dataclass(frozen=True)
class Usage:
    """A subject's counters for a category, peeked without charging."""

    limits: Tuple[UsageLimit, ...] = ()
    plan: Optional[str] = None
    category: Optional[str] = None
    key_id: Optional[str] = None
    degraded: bool = False
    reason: Optional[str] = None
    """Why no counters are shown, when the server says (e.g. ``invalid_key`` for an unknown key)."""
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def tightest(self) -> Optional[UsageLimit]:
        """The enforced limit with the fewest calls left (what a usage counter in a UI shows)."""
        enforced = [item for item in self.limits if item.mode == "enforce"]
        if not enforced:
            return None
        return min(enforced, key=lambda item: (item.remaining, -item.reset))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Usage:
        return cls(
            limits=tuple(UsageLimit.from_json(item) for item in data.get("limits") or ()),
            plan=data.get("plan"),
            category=data.get("category"),
            key_id=data.get("keyId"),
            degraded=data.get("degraded") is True,
            reason=data.get("reason"),
            raw=dict(data),
        )


@dataclass(frozen=True)
class SettleResult:
    """The outcome of ``settle``. ``delta`` is what was added (positive) or refunded (negative)."""

    settled: bool
    delta: float = 0
    applied: bool = False
    degraded: bool = False

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SettleResult:
        return cls(
            settled=bool(data.get("settled", False)),
            delta=data.get("delta", 0),
            applied=bool(data.get("applied", False)),
        )
