"""``Tollgate``: the blocking client, for WSGI apps, scripts and FastAPI's sync endpoints."""

from __future__ import annotations

from typing import Any, List, Mapping, Optional, Sequence, Union

import httpx

from . import _protocol as protocol
from ._config import default_headers, normalise_base_url, pool_limits, timeout_of
from ._transport import sync_transport
from .errors import TollgateError
from .models import CheckRequest, Decision, SettleResult, Subject, Usage


class Tollgate:
    """Asks a Tollgate server for decisions over one keep-alive connection pool.

    A server that is down, failing or slower than ``timeout`` (seconds, per phase) never raises:
    ``check`` answers ``Decision(allowed=fail_open, reason="store_unavailable", degraded=True)``.
    A request the server rejects raises :class:`~tollgate.errors.InvalidRequestError` naming the field.

    >>> tollgate = Tollgate("http://127.0.0.1:8080", token)
    >>> decision = tollgate.check(subject={"user": "u-42"}, category="ops_triage")
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 0.1,
        fail_open: bool = True,
        max_connections: int = 100,
        transport: Optional[httpx.BaseTransport] = None,
    ) -> None:
        self.fail_open = fail_open
        limits = pool_limits(max_connections)
        self._http = httpx.Client(
            base_url=normalise_base_url(base_url),
            headers=default_headers(token),
            timeout=timeout_of(timeout),
            limits=limits,
            transport=transport if transport is not None else sync_transport(limits),
        )

    def check(
        self,
        subject: Optional[Subject] = None,
        *,
        category: Optional[str] = None,
        plan: Optional[str] = None,
        cost: Optional[int] = None,
        byok: Optional[bool] = None,
        dry_run: Optional[bool] = None,
        scopes: Optional[Sequence[str]] = None,
    ) -> Decision:
        """Decides one request and charges it when allowed (``dry_run`` or ``cost=0`` only peek)."""
        body = protocol.check_body(subject, category, plan, cost, byok, dry_run, scopes)
        try:
            return Decision.from_json(protocol.read_answer(self._http.post("/v1/check", json=body)))
        except protocol.DEGRADE_ON as error:
            protocol.log_unavailable("/v1/check", error, self.fail_open)
            return Decision.unavailable(self.fail_open)

    def check_batch(self, requests: Sequence[Union[CheckRequest, Mapping[str, Any]]]) -> List[Decision]:
        """Decides up to 100 requests in one round trip, each on its own."""
        body = protocol.batch_body(requests)
        try:
            answer = protocol.read_answer(self._http.post("/v1/check/batch", json=body))
            return [Decision.from_json(item) for item in answer["decisions"]]
        except protocol.DEGRADE_ON as error:
            protocol.log_unavailable("/v1/check/batch", error, self.fail_open)
            return [Decision.unavailable(self.fail_open) for _ in requests]

    def settle(self, decision: Union[Decision, str, None], cost: int) -> SettleResult:
        """Replaces an allowed decision's estimated cost with the actual one.

        A degraded decision has nothing to settle: that, or an unreachable server, answers
        ``SettleResult(settled=False)`` without raising.
        """
        decision_id = decision.decision_id if isinstance(decision, Decision) else decision
        if not decision_id:
            return SettleResult(settled=False)
        try:
            answer = self._http.post("/v1/settle", json={"decisionId": decision_id, "cost": cost})
            return SettleResult.from_json(protocol.read_answer(answer))
        except protocol.DEGRADE_ON as error:
            protocol.log_unavailable("/v1/settle", error, None)
            return SettleResult(settled=False, degraded=True)

    def usage(
        self, subject: Optional[Subject] = None, *, category: Optional[str] = None, plan: Optional[str] = None
    ) -> Usage:
        """Peeks at a subject's counters without charging; an unreachable server gives ``Usage(degraded=True)``."""
        params, headers = protocol.usage_request(subject, category, plan)
        try:
            answer = self._http.get("/v1/usage", params=params, headers=headers)
            return Usage.from_json(protocol.read_answer(answer))
        except TollgateError as error:
            # A subject's key refused (unknown, revoked) is an answer about the subject, not an error.
            reason = protocol.usage_refusal(error)
            if reason is None:
                raise
            return Usage(category=category, reason=reason, raw=error.problem)
        except protocol.DEGRADE_ON as error:
            protocol.log_unavailable("/v1/usage", error, None)
            return Usage(category=category, degraded=True)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Tollgate:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
