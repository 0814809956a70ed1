"""Errors raised by the client.

Only mistakes the caller can fix raise: a request the server rejects (400, naming the field),
a wrong or under-privileged token (401 / 403), settling a decision twice (409). A server that is
down, slow or failing (network errors, timeouts, 5xx) never raises in the request path: the
client answers a degraded decision instead (see ``Decision.degraded``).
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence


class TollgateError(Exception):
    """An answer from the server that the caller must act on; ``problem`` is its RFC 9457 body."""

    def __init__(self, status: int, detail: str, problem: Optional[Mapping[str, Any]] = None) -> None:
        self.status = status
        self.detail = detail
        self.problem: Mapping[str, Any] = dict(problem or {})
        super().__init__(f"Tollgate answered {status}: {detail}")


class InvalidRequestError(TollgateError, ValueError):
    """The server rejected the request (400 / 413). ``field`` names the request field at fault."""

    def __init__(self, status: int, detail: str, problem: Optional[Mapping[str, Any]] = None) -> None:
        super().__init__(status, detail, problem)
        self.field: Optional[str] = self.problem.get("field")
        issues: Sequence[Mapping[str, Any]] = self.problem.get("issues") or ()
        self.issues = [(str(issue.get("path", "")), str(issue.get("message", ""))) for issue in issues]
        if self.field is None and self.issues:
            self.field = self.issues[0][0] or None
        where = f"{self.field}: " if self.field else ""
        Exception.__init__(self, f"invalid Tollgate request: {where}{detail}")


class AuthenticationError(TollgateError):
    """The service token is missing, unknown, lacks the role (401 / 403), or was throttled (429)."""


class ConflictError(TollgateError):
    """The request conflicts with the server's state (409), e.g. a decision settled twice."""


def error_for(status: int, problem: Mapping[str, Any]) -> TollgateError:
    """The exception for a 4xx problem document."""
    detail = str(problem.get("detail") or problem.get("title") or f"HTTP {status}")
    if status in (400, 413, 415, 422):
        return InvalidRequestError(status, detail, problem)
    if status in (401, 403, 429):
        return AuthenticationError(status, detail, problem)
    if status == 409:
        return ConflictError(status, detail, problem)
    return TollgateError(status, detail, problem)
