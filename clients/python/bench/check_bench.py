"""What the Python client adds to a decision: ``check`` vs a bare ``httpx`` POST, same server, same run.

    /usr/bin/python3 clients/python/bench/check_bench.py --url http://127.0.0.1:8080 --token T

Contenders are interleaved call by call (A, B, A, B, ... with the order alternating), so whatever
else the machine is doing hits each of them alike:

- sync, one caller: ``Tollgate.check`` vs a bare ``httpx.Client.post`` on the same TCP_NODELAY
  keep-alive transport;
- async, ``--concurrency`` calls in flight: ``AsyncTollgate.check`` vs a bare
  ``httpx.AsyncClient.post``, each worker alternating between the two;
- separately, for reference, a bare sync ``httpx.Client`` as installed (no TCP_NODELAY).

The bare call does the least a hand-written integration must: POST the JSON, parse the answer,
read ``allowed``. Every call is a real decision (use case 2's monitor limit, 1,000 organisations).
Decisions/s is calls in flight / mean latency (Little's law); p50 / p99 over every call. Also
measured without the network: the client's own work per decision (building the body, reading the
answer into a Decision).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, List, Sequence, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import httpx  # noqa: E402
from tollgate import AsyncTollgate, Decision, Tollgate  # noqa: E402
from tollgate._protocol import check_body  # noqa: E402
from tollgate._transport import sync_transport  # noqa: E402

ORGS = 1000


def body(i: int) -> Dict[str, Any]:
    return {"subject": {"org": f"bench-{i % ORGS}"}, "category": "llm_call"}


def summary(latencies: List[float], in_flight: int) -> Dict[str, float]:
    ordered = sorted(latencies)
    return {
        "rate": in_flight / statistics.fmean(ordered),
        "p50": statistics.median(ordered) * 1000,
        "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
        "calls": len(ordered),
    }


def interleave_sync(contenders: Sequence[Tuple[str, Callable[[int], bool]]], seconds: float) -> Dict[str, Any]:
    latencies: Dict[str, List[float]] = {name: [] for name, _ in contenders}
    deadline = time.perf_counter() + seconds
    i = 0
    while time.perf_counter() < deadline:
        order = contenders if i % 2 == 0 else list(reversed(contenders))
        for name, call in order:
            started = time.perf_counter()
            call(i)
            latencies[name].append(time.perf_counter() - started)
        i += 1
    return {name: summary(values, 1) for name, values in latencies.items()}


async def interleave_async(
    contenders: Sequence[Tuple[str, Callable[[int], Awaitable[bool]]]], seconds: float, concurrency: int
) -> Dict[str, Any]:
    latencies: Dict[str, List[float]] = {name: [] for name, _ in contenders}
    deadline = time.perf_counter() + seconds

    async def worker(offset: int) -> None:
        i = offset
        while time.perf_counter() < deadline:
            name, call = contenders[i % len(contenders)]
            started = time.perf_counter()
            await call(i)
            latencies[name].append(time.perf_counter() - started)
            i += 1

    await asyncio.gather(*(worker(n) for n in range(concurrency)))
    # Half the workers are on each contender at any moment.
    return {name: summary(values, concurrency // len(contenders)) for name, values in latencies.items()}


def client_work_us(answer: bytes, batches: int = 40, iterations: int = 2_000) -> Dict[str, float]:
    """Microseconds per decision of what the client adds to a bare call, without the network.

    Batches of the two alternate, and each keeps its fastest batch: the least disturbed by the
    rest of the machine."""

    def bare() -> None:
        json.dumps({"subject": {"org": "bench-1"}, "category": "llm_call"})
        json.loads(answer)["allowed"]

    def client() -> None:
        json.dumps(check_body({"org": "bench-1"}, "llm_call"))
        Decision.from_json(json.loads(answer)).allowed

    timings = {"bare": float("inf"), "client": float("inf")}
    for batch in range(batches):
        for name, work in (("bare", bare), ("client", client)) if batch % 2 == 0 else (("client", client), ("bare", bare)):
            started = time.perf_counter()
            for _ in range(iterations):
                work()
            timings[name] = min(timings[name], (time.perf_counter() - started) / iterations * 1e6)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--seconds", type=float, default=10.0, help="per mode (sync, async)")
    parser.add_argument("--concurrency", type=int, default=8, help="async calls in flight")
    args = parser.parse_args()

    headers = {"authorization": f"Bearer {args.token}"}
    # Generous timeouts: a benchmark measures, it must not fail open.
    bare_default = httpx.Client(base_url=args.url, headers=headers, timeout=5)
    bare = httpx.Client(base_url=args.url, headers=headers, timeout=5, transport=sync_transport(httpx.Limits()))
    client = Tollgate(args.url, args.token, timeout=5)

    def bare_sync(i: int) -> bool:
        return bare.post("/v1/check", json=body(i)).json()["allowed"]

    def bare_sync_default(i: int) -> bool:
        return bare_default.post("/v1/check", json=body(i)).json()["allowed"]

    def client_sync(i: int) -> bool:
        decision = client.check({"org": f"bench-{i % ORGS}"}, category="llm_call")
        assert not decision.degraded
        return decision.allowed

    async def async_mode() -> Dict[str, Any]:
        bare_async_client = httpx.AsyncClient(base_url=args.url, headers=headers, timeout=5)
        async_client = AsyncTollgate(args.url, args.token, timeout=5)

        async def bare_async(i: int) -> bool:
            return (await bare_async_client.post("/v1/check", json=body(i))).json()["allowed"]

        async def client_async(i: int) -> bool:
            decision = await async_client.check({"org": f"bench-{i % ORGS}"}, category="llm_call")
            assert not decision.degraded
            return decision.allowed

        contenders = [("bare httpx.AsyncClient", bare_async), ("AsyncTollgate.check", client_async)]
        await interleave_async(contenders, 0.5, args.concurrency)  # warm the pools
        results = await interleave_async(contenders, args.seconds, args.concurrency)
        await bare_async_client.aclose()
        await async_client.aclose()
        return results

    sync_contenders = [("bare httpx.Client, TCP_NODELAY", bare_sync), ("Tollgate.check", client_sync)]
    interleave_sync(sync_contenders, 0.5)  # warm the pools
    results = interleave_sync(sync_contenders, args.seconds)
    results.update(interleave_sync([("bare httpx.Client, as installed", bare_sync_default)], min(3.0, args.seconds)))
    results.update(asyncio.run(async_mode()))
    answer = bare.post("/v1/check", json=body(1)).content
    print(
        json.dumps(
            {
                "python": sys.version.split()[0],
                "httpx": httpx.__version__,
                "seconds": args.seconds,
                "concurrency": args.concurrency,
                "results": results,
                "client_work_us": client_work_us(answer),
            }
        )
    )


if __name__ == "__main__":
    main()
