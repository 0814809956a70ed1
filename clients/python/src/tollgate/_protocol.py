"""What the sync and async clients share: request bodies, answer parsing, and fail-open.

Kept free of I/O so both clients stay thin and behave the same.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import httpx

from .errors import InvalidRequestError, TollgateError, error_for
from .models import Subject

logger = logging.getLogger("tollgate")

#: Errors that mean "the server could not answer in time": the caller gets a degraded answer.
TRANSPORT_ERRORS = (httpx.TransportError, httpx.InvalidURL, TimeoutError)

SUBJECT_FIELDS = ("user", "org", "project", "ip", "key", "apiKey")


class Unavailable(Exception):
    """The server answered, but not with a decision (5xx, or a body that is not JSON)."""


#: Everything that degrades a call instead of raising: no answer in time, or no usable answer
#: (a 2xx body of the wrong shape surfaces as KeyError / TypeError / AttributeError when parsed).
DEGRADE_ON = (*TRANSPORT_ERRORS, Unavailable, KeyError, TypeError, AttributeError)


def clean_subject(subject: Optional[Mapping[str, Any]], field: str = "subject") -> Dict[str, Any]:
    """Drops ``None`` values so optional identities can be passed straight from a request."""
    if subject is None:
        return {}
    if not isinstance(subject, Mapping):
        raise InvalidRequestError(400, f"{field} must be a mapping such as {{'user': 'u-42'}}", {"field": field})
    return {name: value for name, value in subject.items() if value is not None}


def check_body(
    subject: Optional[Subject],
    category: Optional[str] = None,
    plan: Optional[str] = None,
    cost: Optional[int] = None,
    byok: Optional[bool] = None,
    dry_run: Optional[bool] = None,
    scopes: Optional[Sequence[str]] = None,
    field: str = "subject",
) -> Dict[str, Any]:
    """The JSON body of ``POST /v1/check`` (camelCase, unset fields left out)."""
    body: Dict[str, Any] = {"subject": clean_subject(subject, field)}
    if category is not None:
        body["category"] = category
    if plan is not None:
        body["plan"] = plan
    if cost is not None:
        body["cost"] = cost
    if byok is not None:
        body["byok"] = byok
    if dry_run is not None:
        body["dryRun"] = dry_run
    if scopes is not None:
        body["scopes"] = list(scopes)
    return body


def batch_body(requests: Sequence[Mapping[str, Any]]) -> Dict[str, Any]:
    bodies: List[Dict[str, Any]] = []
    for i, request in enumerate(requests):
        unknown = set(request) - {"subject", "category", "plan", "cost", "byok", "dry_run", "scopes"}
        if unknown:
            name = sorted(unknown)[0]
            raise InvalidRequestError(400, f"unknown field {name!r}", {"field": f"requests[{i}].{name}"})
        bodies.append(check_body(**{**request, "field": f"requests[{i}].subject"}))
    return {"requests": bodies}


def usage_request(
    subject: Optional[Subject], category: Optional[str], plan: Optional[str]
) -> Tuple[Dict[str, str], Dict[str, str]]:
    """Query parameters and headers of ``GET /v1/usage``: a raw API key goes in a header, never a URL."""
    fields = clean_subject(subject)
    headers: Dict[str, str] = {}
    api_key = fields.pop("apiKey", None)
    if api_key is not None:
        headers["x-api-key"] = str(api_key)
    params = {name: str(value) for name, value in fields.items()}
    if category is not None:
        params["category"] = category
    if plan is not None:
        params["plan"] = plan
    return params, headers


def read_answer(response: httpx.Response) -> Any:
    """The JSON body of a 2xx answer; raises the caller's error on 4xx, ``Unavailable`` otherwise."""
    status = response.status_code
    if status < 500:
        outages.answered()
    if 200 <= status < 300:
        try:
            return response.json()
        except ValueError as error:
            raise Unavailable(f"{status} with a body that is not JSON") from error
    if 400 <= status < 500:
        try:
            problem = response.json()
        except ValueError:
            problem = {}
        if not isinstance(problem, Mapping):
            problem = {}
        raise error_for(status, problem)
    raise Unavailable(f"HTTP {status}")


class _OutageLog:
    """Logs an outage without flooding: the first failure, then one line per ``interval`` seconds
    with the number of calls degraded since, and one line when the server answers again."""

    def __init__(self, interval: float = 10.0) -> None:
        self.interval = interval
        self._lock = threading.Lock()
        self._last = float("-inf")
        self._suppressed = 0
        self._down = False

    def failed(self, path: str, error: BaseException, allowed: Optional[bool]) -> None:
        outcome = "" if allowed is None else (" (allowing: fail open)" if allowed else " (denying: fail closed)")
        with self._lock:
            now = time.monotonic()
            self._down = True
            if now - self._last < self.interval:
                self._suppressed += 1
                return
            suppressed, self._suppressed, self._last = self._suppressed, 0, now
        more = f"; {suppressed} more calls degraded in the last {self.interval:g} s" if suppressed else ""
        logger.warning("Tollgate %s unavailable: %s%s%s", path, describe(error), outcome, more)

    def answered(self) -> None:
        if not self._down:
            return
        with self._lock:
            if not self._down:
                return
            self._down, self._last = False, float("-inf")
            suppressed, self._suppressed = self._suppressed, 0
        logger.warning("Tollgate answers again (%d more calls were degraded)", suppressed)


outages = _OutageLog()


def usage_refusal(error: TollgateError) -> Optional[str]:
    """The reason a usage peek was refused for the subject (not for the token), if that is what a 4xx says."""
    reason = error.problem.get("reason")
    return reason if isinstance(reason, str) and reason in ("invalid_key", "forbidden", "subject_missing") else None


def log_unavailable(path: str, error: BaseException, allowed: Optional[bool]) -> None:
    """Never logs the token, the subject or an API key; throttled during an outage."""
    outages.failed(path, error, allowed)


def describe(error: BaseException) -> str:
    if isinstance(error, httpx.TimeoutException):
        return f"timed out ({type(error).__name__})"
    if isinstance(error, TimeoutError):
        return "timed out (deadline)"
    if isinstance(error, Unavailable):
        return str(error)
    return type(error).__name__
