"""``Unlimited``: a client that allows everything, for an app run without a Tollgate server.

Pass it wherever a ``Tollgate`` / ``AsyncTollgate`` goes (including ``tollgate.fastapi``), so
an app configured without a server keeps working with limits as no-ops, and no code checks
for ``None``.
"""

from __future__ import annotations

from typing import Any, List, Mapping, Optional, Sequence, Union

from .models import CheckRequest, Decision, SettleResult, Subject, Usage


class Unlimited:
    """Async, like ``AsyncTollgate``: every check is allowed, usage is empty, settling is a no-op."""

    fail_open = True

    async def check(self, subject: Optional[Subject] = None, **options: Any) -> Decision:
        return Decision(allowed=True, category=options.get("category"))

    async def check_batch(self, requests: Sequence[Union[CheckRequest, Mapping[str, Any]]]) -> List[Decision]:
        return [Decision(allowed=True, category=request.get("category")) for request in requests]

    async def settle(self, decision: Any, cost: int) -> SettleResult:
        return SettleResult(settled=False)

    async def usage(self, subject: Optional[Subject] = None, **options: Any) -> Usage:
        return Usage(category=options.get("category"))

    async def aclose(self) -> None:
        return None
