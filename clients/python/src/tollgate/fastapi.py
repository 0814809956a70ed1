"""FastAPI integration: a rate-limit dependency and a usage endpoint (needs the ``fastapi`` extra).

    from tollgate.fastapi import limit, install_problem_handler, usage_route

    ai_budget = limit(tollgate, category="ops_triage", subject=lambda request: {"user": request.state.user_id})

    @app.post("/api/ai/triage", dependencies=[Depends(ai_budget)])
    async def triage(): ...

An allowed request gets the decision's ``RateLimit`` headers on its response; a denied one is
answered 429 with ``Retry-After`` (403 ``forbidden``, 401 ``invalid_key``, 503 when failing
closed), with nothing else of the endpoint run. ``monitor=True`` only records: it never blocks.
"""

from __future__ import annotations

import inspect
from typing import Any, Awaitable, Callable, Dict, Optional, Sequence, TypeVar, Union

from fastapi import HTTPException, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from .aio import AsyncTollgate
from .client import Tollgate
from .errors import InvalidRequestError
from .models import Decision, Subject, Usage
from .unlimited import Unlimited

T = TypeVar("T")
#: A value, or a function of the request giving it (sync or async).
FromRequest = Union[T, Callable[[Request], Union[T, Awaitable[T]]]]
Client = Union[Tollgate, AsyncTollgate, Unlimited]

PROBLEM_CONTENT_TYPE = "application/problem+json"

# Status, problem type and title per refusal reason; any other reason is a 429. The same types as
# the server and the Node adapters answer: the catalogue in docs/problems.md (core's PROBLEMS),
# checked by packages/server/test/problem-catalogue.test.ts.
_TYPES = "https://tollgate.dev/problems/"
_REFUSALS: Dict[str, tuple] = {
    "forbidden": (403, _TYPES + "forbidden-scope", "Forbidden"),
    "invalid_key": (401, _TYPES + "invalid-key", "Invalid API key"),
    "store_unavailable": (503, _TYPES + "store-unavailable", "Rate limiting unavailable"),
    "subject_missing": (400, _TYPES + "subject-missing", "Subject missing"),
    "cost_exceeds_limit": (429, _TYPES + "cost-exceeds-limit", "Request larger than the limit"),
    "quota_exceeded": (429, _TYPES + "quota-exceeded", "Quota exceeded"),
}
_RATE = (429, _TYPES + "rate-limited", "Too many requests")
_INVALID = (400, _TYPES + "validation-failed", "Invalid request")

_DETAILS = {
    "forbidden": "Your role or API key does not permit this endpoint.",
    "invalid_key": "The API key is unknown, revoked or expired.",
    "store_unavailable": "Rate limiting is unavailable and this endpoint fails closed. Try again shortly.",
    "subject_missing": "This endpoint is limited per caller, and the request does not say who the caller is.",
    "cost_exceeds_limit": "This request costs more than the limit can ever allow; retrying will not help.",
}


class LimitExceeded(HTTPException):
    """Raised by the dependency for a denied request; carries the decision and its problem document."""

    def __init__(self, decision: Decision) -> None:
        status, problem = denial_problem(decision)
        headers = dict(decision.headers)
        if decision.reason == "cost_exceeds_limit":
            headers.setdefault("x-should-retry", "false")
        if decision.retry_after is not None:
            headers.setdefault("Retry-After", str(decision.retry_after))
        super().__init__(status_code=status, detail=problem, headers=headers)
        self.decision = decision
        self.problem = problem


class InvalidInput(HTTPException):
    """Raised by the dependency when Tollgate rejected what the request resolved to (400)."""

    def __init__(self, error: InvalidRequestError) -> None:
        status, kind, title = _INVALID
        problem: Dict[str, Any] = {"type": kind, "title": title, "status": status, "detail": str(error)}
        if error.field is not None:
            problem["field"] = error.field
        super().__init__(status_code=400, detail=problem)
        self.problem = problem


def denial_problem(decision: Decision) -> tuple:
    """The HTTP status and RFC 9457 problem document answering a denied decision."""
    reason = decision.reason or "limit_exceeded"
    status, kind, title = _REFUSALS.get(reason, _RATE)
    detail = _DETAILS.get(reason)
    if detail is None:
        wait = f" Try again in {decision.retry_after} s." if decision.retry_after is not None else ""
        what = "Quota" if reason == "quota_exceeded" else "Rate limit"
        violated = ", ".join(s.name for s in decision.limits if s.exceeded and s.mode == "enforce")
        detail = f"{what} exceeded{f' ({violated})' if violated else ''}.{wait}"
    violated_policies = [s.name for s in decision.limits if s.exceeded and s.mode == "enforce"]
    problem: Dict[str, Any] = {
        "type": kind,
        "title": title,
        "status": status,
        "detail": detail,
        "reason": reason,
        "violatedPolicies": violated_policies,
    }
    if decision.retry_after is not None:
        problem["retryAfter"] = decision.retry_after
    return status, problem


def install_problem_handler(app: Any) -> None:
    """Answers denials as ``application/problem+json`` (FastAPI's default wraps them in ``detail``)."""

    async def handler(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, (LimitExceeded, InvalidInput))
        return JSONResponse(
            exc.problem, status_code=exc.status_code, headers=exc.headers, media_type=PROBLEM_CONTENT_TYPE
        )

    app.add_exception_handler(LimitExceeded, handler)
    app.add_exception_handler(InvalidInput, handler)


async def _resolve(value: Any, request: Request) -> Any:
    if callable(value):
        value = value(request)
        if inspect.isawaitable(value):
            value = await value
    return value


async def _call(client: Client, method: str, *args: Any, **kwargs: Any) -> Any:
    # The sync client blocks; run it in the thread pool so the event loop keeps serving.
    function = getattr(client, method)
    if inspect.iscoroutinefunction(function):
        return await function(*args, **kwargs)
    return await run_in_threadpool(function, *args, **kwargs)


def limit(
    client: Client,
    *,
    subject: FromRequest[Optional[Subject]],
    category: FromRequest[Optional[str]] = None,
    plan: FromRequest[Optional[str]] = None,
    cost: FromRequest[Optional[int]] = None,
    byok: FromRequest[bool] = False,
    scopes: FromRequest[Optional[Sequence[str]]] = None,
    monitor: bool = False,
    on_decision: Optional[Callable[[Request, Decision], Any]] = None,
) -> Callable[[Request, Response], Awaitable[Decision]]:
    """A FastAPI dependency that asks Tollgate before the endpoint runs.

    ``subject``, ``category``, ``plan``, ``cost``, ``byok`` and ``scopes`` are values or
    functions of the request (sync or async). The dependency returns the :class:`Decision`
    (also at ``request.state.tollgate``), so an endpoint can settle it afterwards.

    ``monitor=True`` only records: every request proceeds and no headers are added; use
    ``on_decision`` (called for every decision) to act on ``decision.crossed``.
    """

    async def tollgate_limit(request: Request, response: Response) -> Decision:
        try:
            decision = await _call(
                client,
                "check",
                await _resolve(subject, request),
                category=await _resolve(category, request),
                plan=await _resolve(plan, request),
                cost=await _resolve(cost, request),
                byok=bool(await _resolve(byok, request)) or None,
                scopes=await _resolve(scopes, request),
            )
        except InvalidRequestError as error:
            # e.g. an identity header longer than Tollgate accepts: the caller's fault, not a 500.
            raise InvalidInput(error) from error
        request.state.tollgate = decision
        if on_decision is not None:
            outcome = on_decision(request, decision)
            if inspect.isawaitable(outcome):
                await outcome
        if monitor:
            return decision
        if not decision.allowed:
            raise LimitExceeded(decision)
        for name, value in decision.headers.items():
            response.headers[name] = value
        return decision

    return tollgate_limit


def usage_body(usage: Usage) -> Dict[str, Any]:
    """``{used, limit, remaining, reset, limits}``: the tightest enforced limit first, for a UI counter."""
    tightest = usage.tightest()
    body: Dict[str, Any] = {
        "used": tightest.used if tightest else 0,
        "limit": tightest.limit if tightest else None,
        "remaining": tightest.remaining if tightest else None,
        "reset": tightest.reset if tightest else None,
        "limits": [
            {"name": item.name, "used": item.used, "limit": item.limit, "remaining": item.remaining, "reset": item.reset}
            for item in usage.limits
            if item.mode == "enforce"
        ],
    }
    if usage.plan is not None:
        body["plan"] = usage.plan
    if usage.degraded:
        body["degraded"] = True
    return body


def usage_route(
    client: Client,
    *,
    subject: FromRequest[Optional[Subject]],
    category: FromRequest[Optional[str]] = None,
    plan: FromRequest[Optional[str]] = None,
) -> Callable[[Request], Awaitable[Dict[str, Any]]]:
    """An endpoint answering the caller's usage without charging it (a UI's usage counter).

        app.get("/api/usage")(usage_route(tollgate, category="generate", subject=who))

    Answers ``{used, limit, remaining, reset, limits: [...]}`` for the tightest enforced limit;
    ``limit`` is null when none applies, and ``degraded: true`` appears when the server is down.
    """

    async def tollgate_usage(request: Request) -> Dict[str, Any]:
        usage = await _call(
            client,
            "usage",
            await _resolve(subject, request),
            category=await _resolve(category, request),
            plan=await _resolve(plan, request),
        )
        return usage_body(usage)

    return tollgate_usage


__all__ = [
    "InvalidInput",
    "LimitExceeded",
    "denial_problem",
    "install_problem_handler",
    "limit",
    "usage_body",
    "usage_route",
]
