"""``AsyncTollgate``: the asyncio client, for FastAPI and other ASGI apps. Same API as ``Tollgate``."""

from __future__ import annotations

from typing import Any, List, Mapping, Optional, Sequence, Union

import anyio
import httpx

from . import _protocol as protocol
from ._config import default_headers, normalise_base_url, pool_limits, timeout_of
from .errors import TollgateError
from .models import CheckRequest, Decision, SettleResult, Subject, Usage


class AsyncTollgate:
    """Asks a Tollgate server for decisions over one keep-alive connection pool.

    A server that is down, failing or slower than ``timeout`` (seconds, for the whole call) never raises:
    ``check`` answers ``Decision(allowed=fail_open, reason="store_unavailable", degraded=True)``.
    A request the server rejects raises :class:`~tollgate.errors.InvalidRequestError` naming the field.

    >>> tollgate = AsyncTollgate("http://127.0.0.1:8080", token)
    >>> decision = await tollgate.check(subject={"user": "u-42"}, category="ops_triage")
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 0.1,
        fail_open: bool = True,
        max_connections: int = 100,
        transport: Optional[httpx.AsyncBaseTransport] = None,
    ) -> None:
        self.fail_open = fail_open
        self._deadline = timeout
        self._http = httpx.AsyncClient(
            base_url=normalise_base_url(base_url),
            headers=default_headers(token),
            timeout=timeout_of(timeout),
            limits=pool_limits(max_connections),
            transport=transport,
        )

    async def check(
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
            return Decision.from_json(protocol.read_answer(await self._post("/v1/check", body)))
        except protocol.DEGRADE_ON as error:
            protocol.log_unavailable("/v1/check", error, self.fail_open)
            return Decision.unavailable(self.fail_open)

    async def check_batch(self, requests: Sequence[Union[CheckRequest, Mapping[str, Any]]]) -> List[Decision]:
        """Decides up to 100 requests in one round trip, each on its own."""
        body = protocol.batch_body(requests)
        try:
            answer = protocol.read_answer(await self._post("/v1/check/batch", body))
            return [Decision.from_json(item) for item in answer["decisions"]]
        except protocol.DEGRADE_ON as error:
            protocol.log_unavailable("/v1/check/batch", error, self.fail_open)
            return [Decision.unavailable(self.fail_open) for _ in requests]

    async def settle(self, decision: Union[Decision, str, None], cost: int) -> SettleResult:
        """Replaces an allowed decision's estimated cost with the actual one.

        A degraded decision has nothing to settle: that, or an unreachable server, answers
        ``SettleResult(settled=False)`` without raising.
        """
        decision_id = decision.decision_id if isinstance(decision, Decision) else decision
        if not decision_id:
            return SettleResult(settled=False)
        try:
            answer = await self._post("/v1/settle", {"decisionId": decision_id, "cost": cost})
            return SettleResult.from_json(protocol.read_answer(answer))
        except protocol.DEGRADE_ON as error:
            protocol.log_unavailable("/v1/settle", error, None)
            return SettleResult(settled=False, degraded=True)

    async def usage(
        self, subject: Optional[Subject] = None, *, category: Optional[str] = None, plan: Optional[str] = None
    ) -> Usage:
        """Peeks at a subject's counters without charging; an unreachable server gives ``Usage(degraded=True)``."""
        params, headers = protocol.usage_request(subject, category, plan)
        try:
            with anyio.fail_after(self._deadline):
                answer = await self._http.get("/v1/usage", params=params, headers=headers)
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

    async def _post(self, path: str, body: Any) -> httpx.Response:
        # httpx bounds each phase by `timeout`; this bounds the whole call, so a decision never
        # waits longer than `timeout` in an async request path (the sync client cannot cancel).
        with anyio.fail_after(self._deadline):
            return await self._http.post(path, json=body)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncTollgate:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
