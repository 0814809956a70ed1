"""What the Python client adds to a decision: ``check`` vs a bare ``httpx`` POST, same server, same run.

    /usr/bin/python3 clients/python/bench/check_bench.py --url http://127.0.0.1:8080 --token T

Contenders, interleaved round by round (so drift in machine load hits all of them): sync
``Tollgate.check`` vs a bare ``httpx.Client.post`` (one caller, keep-alive; as installed, and
with the client's TCP_NODELAY transport, the fair comparison), and async
``AsyncTollgate.check`` vs a bare ``httpx.AsyncClient.post`` (``--concurrency`` calls in flight).
The bare call does the least a hand-written integration must: POST the JSON, parse the answer,
read ``allowed``. Every call is a real decision (use case 2's monitor limit, 1,000 organisations).
Prints one JSON document: per contender, decisions/s over all rounds and p50 / p99 of every
call's latency (pooled across rounds), plus the client's own work per decision measured without
the network (building the body, reading the answer into a Decision), which machine noise cannot
hide.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import httpx  # noqa: E402
from tollgate import AsyncTollgate, Tollgate  # noqa: E402
from tollgate._transport import sync_transport  # noqa: E402

ORGS = 1000


def body(i: int) -> Dict[str, Any]:
    return {"subject": {"org": f"bench-{i % ORGS}"}, "category": "llm_call"}


def summarise(latencies: List[float], seconds: float) -> Dict[str, Any]:
    return {"latencies": latencies, "seconds": seconds}


def pooled(rounds: List[Dict[str, Any]]) -> Dict[str, float]:
    latencies = sorted(latency for r in rounds for latency in r["latencies"])
    seconds = sum(r["seconds"] for r in rounds)
    return {
        "rate": len(latencies) / seconds,
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "calls": len(latencies),
        "round_rates": [len(r["latencies"]) / r["seconds"] for r in rounds],
    }


def client_work_us(answer: bytes, iterations: int = 20_000) -> Dict[str, float]:
    """Microseconds per decision of what the client adds to a bare call, without the network."""
    from tollgate import Decision
    from tollgate._protocol import check_body

    def bare() -> None:
        json.dumps({"subject": {"org": "bench-1"}, "category": "llm_call"})
        json.loads(answer)["allowed"]

    def client() -> None:
        json.dumps(check_body({"org": "bench-1"}, "llm_call"))
        Decision.from_json(json.loads(answer)).allowed

    timings: Dict[str, float] = {}
    for name, work in (("bare", bare), ("client", client)):
        best = float("inf")
        for _ in range(5):
            started = time.perf_counter()
            for _ in range(iterations):
                work()
            best = min(best, (time.perf_counter() - started) / iterations * 1e6)
        timings[name] = best
    return timings


def run_sync(call: Callable[[int], bool], seconds: float) -> Dict[str, float]:
    latencies: List[float] = []
    started = time.perf_counter()
    deadline = started + seconds
    i = 0
    while True:
        t0 = time.perf_counter()
        if call(i) is None:
            raise RuntimeError("no decision")
        t1 = time.perf_counter()
        latencies.append(t1 - t0)
        i += 1
        if t1 >= deadline:
            return summarise(latencies, t1 - started)


async def run_async(call: Callable[[int], Any], seconds: float, concurrency: int) -> Dict[str, float]:
    latencies: List[float] = []
    started = time.perf_counter()
    deadline = started + seconds
    counter = iter(range(sys.maxsize))

    async def worker() -> None:
        while True:
            t0 = time.perf_counter()
            if await call(next(counter)) is None:
                raise RuntimeError("no decision")
            t1 = time.perf_counter()
            latencies.append(t1 - t0)
            if t1 >= deadline:
                return

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return summarise(latencies, time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--seconds", type=float, default=1.0, help="per contender per round")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=8, help="async calls in flight")
    args = parser.parse_args()

    headers = {"authorization": f"Bearer {args.token}"}
    # Generous timeouts: a benchmark measures, it must not fail open.
    bare = httpx.Client(base_url=args.url, headers=headers, timeout=5)
    # The fair bare call: the same TCP_NODELAY transport the client uses (see tollgate/_transport.py).
    bare_nodelay = httpx.Client(
        base_url=args.url, headers=headers, timeout=5, transport=sync_transport(httpx.Limits())
    )
    client = Tollgate(args.url, args.token, timeout=5)

    def bare_sync(i: int) -> bool:
        return bare.post("/v1/check", json=body(i)).json()["allowed"]

    def bare_sync_nodelay(i: int) -> bool:
        return bare_nodelay.post("/v1/check", json=body(i)).json()["allowed"]

    def client_sync(i: int) -> bool:
        decision = client.check({"org": f"bench-{i % ORGS}"}, category="llm_call")
        assert not decision.degraded
        return decision.allowed

    async def async_rounds() -> Dict[str, List[Dict[str, Any]]]:
        bare_async_client = httpx.AsyncClient(base_url=args.url, headers=headers, timeout=5)
        async_client = AsyncTollgate(args.url, args.token, timeout=5)

        async def bare_async(i: int) -> bool:
            return (await bare_async_client.post("/v1/check", json=body(i))).json()["allowed"]

        async def client_async(i: int) -> bool:
            decision = await async_client.check({"org": f"bench-{i % ORGS}"}, category="llm_call")
            assert not decision.degraded
            return decision.allowed

        results: Dict[str, List[Dict[str, Any]]] = {"bare httpx.AsyncClient": [], "AsyncTollgate.check": []}
        for name, call in (("bare httpx.AsyncClient", bare_async), ("AsyncTollgate.check", client_async)):
            await run_async(call, 0.3, args.concurrency)  # warm the pool
        for _ in range(args.rounds):
            for name, call in (("bare httpx.AsyncClient", bare_async), ("AsyncTollgate.check", client_async)):
                results[name].append(await run_async(call, args.seconds, args.concurrency))
        await bare_async_client.aclose()
        await async_client.aclose()
        return results

    sync_contenders = (
        ("bare httpx.Client", bare_sync),
        ("bare httpx.Client, TCP_NODELAY", bare_sync_nodelay),
        ("Tollgate.check", client_sync),
    )
    results: Dict[str, List[Dict[str, Any]]] = {name: [] for name, _ in sync_contenders}
    for name, call in sync_contenders:
        run_sync(call, 0.3)  # warm the pool
    for _ in range(args.rounds):
        for name, call in sync_contenders:
            results[name].append(run_sync(call, args.seconds))
    results.update(asyncio.run(async_rounds()))
    answer = bare.post("/v1/check", json=body(1)).content
    print(
        json.dumps(
            {
                "python": sys.version.split()[0],
                "httpx": httpx.__version__,
                "seconds": args.seconds,
                "rounds": args.rounds,
                "concurrency": args.concurrency,
                "results": {name: pooled(rounds) for name, rounds in results.items()},
                "client_work_us": client_work_us(answer),
            }
        )
    )


if __name__ == "__main__":
    main()
