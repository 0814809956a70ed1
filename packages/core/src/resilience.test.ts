import { describe, expect, it } from "vitest";
import { manualClock, systemClock } from "./clock.js";
import type { Decision } from "./decision.js";
import type { LimitSpec } from "./limit.js";
import { createLimiter } from "./limiter.js";
import { LoopClock } from "./loop-clock.js";
import { memoryStore } from "./memory-store.js";
import { CircuitBreaker, StoreTimeoutError, withDeadline } from "./resilience.js";
import type { CounterRef, DecideRequest, DecideResult, Store } from "./store.js";
import type { HealthEvent } from "./store-guard.js";

const START = Date.UTC(2026, 0, 5, 12, 0, 0);
const minute: LimitSpec = { name: "minute", per: "user", algorithm: "fixed-window", limit: 5, window: "1m" };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Blocks the event loop, as a CPU-starved or saturated process does. */
function stall(ms: number) {
  const until = performance.now() + ms;
  while (performance.now() < until) {}
}

/** A memory store answering asynchronously after `delayMs`, failing while `down`, with a ping. */
function slowStore(delayMs = 0) {
  const inner = memoryStore();
  const state = { down: false, delayMs, decideCalls: 0, pings: 0 };
  const later = <T>(call: () => T) =>
    new Promise<T>((resolve, reject) => {
      setTimeout(() => {
        if (state.down) reject(new Error("ECONNREFUSED"));
        else resolve(call());
      }, state.delayMs);
    });
  const store: Store = {
    name: "slow",
    decide: (request: DecideRequest) => {
      state.decideCalls++;
      return later(() => inner.decide(request) as DecideResult);
    },
    adjust: (items) => later(() => void inner.adjust(items)),
    release: (items) => later(() => void inner.release(items)),
    reset: (items) => later(() => void inner.reset(items)),
    ping: async () => {
      state.pings++;
      if (state.down) throw new Error("ECONNREFUSED");
    },
  };
  return { store, state, inner };
}

describe("circuit breaker: weighs failures over a window, not single slow calls", () => {
  it("a failure among many successes does not open it; a dead node (every call failing) does", () => {
    const clock = manualClock(START);
    const breaker = new CircuitBreaker(clock, { failureThreshold: 5, failureRate: 0.5, windowMs: 1_000 });
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 10; i++) breaker.success();
      breaker.failure();
      clock.advance(100);
    }
    expect(breaker.state).toBe("closed");
    for (let i = 0; i < 5; i++) breaker.failure();
    // 5 failures, but 10+ successes in the same window: under half of the calls.
    expect(breaker.state).toBe("closed");
    clock.advance(1_000);
    for (let i = 0; i < 4; i++) breaker.failure();
    expect(breaker.state).toBe("closed");
    breaker.failure();
    expect(breaker.state).toBe("open");
  });

  it("a burst of failures at one instant (one slow batch) does not open it; failures going on for failingForMs do", () => {
    const clock = manualClock(START);
    const breaker = new CircuitBreaker(clock, { failureThreshold: 5, failingForMs: 200 });
    for (let i = 0; i < 64; i++) breaker.failure();
    expect(breaker.state).toBe("closed");
    breaker.success(); // the next round trip answers
    clock.advance(150);
    for (let i = 0; i < 64; i++) breaker.failure();
    clock.advance(199);
    breaker.failure();
    expect(breaker.state).toBe("closed");
    clock.advance(1);
    breaker.failure();
    expect(breaker.state).toBe("open");
  });

  it("inconclusive outcomes (our own stall) count on neither side, and a trial that ends so re-opens", () => {
    const clock = manualClock(START);
    const breaker = new CircuitBreaker(clock, { failureThreshold: 1, failingForMs: 0, coolDownMs: 100 });
    for (let i = 0; i < 10; i++) breaker.inconclusive();
    expect(breaker.state).toBe("closed");
    breaker.failure();
    expect(breaker.state).toBe("open");
    clock.advance(100);
    expect(breaker.allow()).toBe(true);
    expect(breaker.allow()).toBe(false); // one trial at a time
    breaker.inconclusive();
    expect(breaker.state).toBe("open");
  });
});

describe("deadline: counts the store's time, not our own stalls", () => {
  it("a process stalled past the timeout does not time out a store that answered meanwhile", async () => {
    // The answer comes 30 ms after the stall ends (our request left late, as it does when the
    // process is saturated): the deadline's timer fired 150 ms late, so the time was ours.
    const answer = new Promise<string>((resolve) => setTimeout(() => resolve("ok"), 230));
    const guarded = withDeadline(answer, { timeoutMs: 50, what: "test" });
    stall(200);
    await expect(guarded).resolves.toBe("ok");
  });

  it("a store that does not answer still times out, and a late answer is reported", async () => {
    let late: unknown;
    // The answer comes long after the deadline, so a loaded machine's late timers (which the
    // deadline forgives as our own stall) still leave it timed out first.
    const answer = new Promise<string>((resolve) => setTimeout(() => resolve("late"), 1_000));
    const guarded = withDeadline(answer, { timeoutMs: 30, what: "test", onLateResult: (v) => (late = v) });
    const error = await (guarded as Promise<string>).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreTimeoutError);
    await answer;
    await Promise.resolve();
    expect(late).toBe("late");
  });
});

describe("deadline: a node that keeps replying is slow, not dead", () => {
  it("a call waiting behind replies that keep coming is not failed at the timeout", async () => {
    let lastReply = performance.now();
    const progress = setInterval(() => (lastReply = performance.now()), 20);
    const answer = new Promise<string>((resolve) => setTimeout(() => resolve("ok"), 250));
    const guarded = withDeadline(answer, { timeoutMs: 50, what: "test", lastProgress: () => lastReply });
    await expect(guarded).resolves.toBe("ok");
    clearInterval(progress);
  });

  it("a node silent for the timeout fails the call (not as our own stall), even after earlier progress", async () => {
    let lastReply = performance.now();
    const progress = setInterval(() => (lastReply = performance.now()), 20);
    setTimeout(() => clearInterval(progress), 100); // the node stops replying at ~100 ms
    const answer = new Promise<string>((resolve) => setTimeout(() => resolve("late"), 2_000));
    const started = performance.now();
    const error = await (
      withDeadline(answer, { timeoutMs: 50, what: "test", lastProgress: () => lastReply }) as Promise<string>
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreTimeoutError);
    expect((error as StoreTimeoutError).lagged).toBe(false);
    // Silent from ~100 ms: failed about 50 ms (of available time) later, long before the answer.
    expect(performance.now() - started).toBeLessThan(1_500);
  });
});

describe("loop clock: counts the time our event loop was available", () => {
  it("a synchronous stall is not counted, and a past instant converts across it", async () => {
    const loop = new LoopClock();
    loop.hold();
    await sleep(30);
    const wallBefore = performance.now();
    const before = loop.now();
    stall(150);
    // Not counted even before the next tick runs.
    expect(loop.now() - before).toBeLessThan(40);
    await sleep(30);
    expect(performance.now() - wallBefore).toBeGreaterThanOrEqual(150);
    expect(loop.now() - before).toBeLessThan(100);
    // An instant before the stall is as far back in available time as the time that really ran.
    expect(loop.now() - loop.at(wallBefore)).toBeLessThan(100);
    loop.release();
  });
});

describe("compensation: an abandoned store call that charged later is taken back", () => {
  it.each([
    ["closed", false],
    ["open", true],
    ["local", true],
  ] as const)("failMode %s: the caller's answer and the counters agree", async (failMode, allowed) => {
    const slow = slowStore(400); // far past the timeout, even with a loaded machine's lag allowance
    const compensations: boolean[] = [];
    const limiter = createLimiter({
      store: slow.store,
      clock: systemClock,
      timeoutMs: 30,
      breaker: false,
      limits: [{ ...minute, failMode }],
      hooks: { onCompensation: ({ applied }) => compensations.push(applied) },
    });
    const decision = await limiter.check({ subject: { user: "u" } });
    expect(decision).toMatchObject({ allowed, degraded: true });
    // The delayed call reaches the store after the limiter gave up: it charges, then is undone.
    const deadline = Date.now() + 5_000;
    while (compensations.length === 0 && Date.now() < deadline) await sleep(20);
    expect(compensations).toEqual([true]);
    const ref: CounterRef = { ...(limiter.config.global[0] as { counter: string; limit: never }), id: "u" };
    const peek = slow.inner.decide({ items: [{ ...ref, cost: 0 }], charge: false }) as DecideResult;
    expect(peek.outcomes[0]?.used).toBe(0);
  });
});

describe("a breaker per store node", () => {
  /** Two nodes: user "a..." lives on node A, others on node B; node A can be killed. */
  function twoNodes() {
    const inner = memoryStore();
    const down = new Set<string>();
    const nodeOf = (refs: readonly CounterRef[]) => [...new Set(refs.map((r) => (r.id.startsWith("a") ? "A" : "B")))];
    const calls = { A: 0, B: 0 };
    const store: Store = {
      name: "two-nodes",
      partitionsOf: nodeOf,
      async decide(request) {
        for (const node of nodeOf(request.items)) {
          calls[node as "A" | "B"]++;
          if (down.has(node)) throw Object.assign(new Error(`node ${node} refused`), { partition: node });
        }
        return inner.decide(request) as DecideResult;
      },
      adjust: async (items) => inner.adjust(items),
      release: async (items) => inner.release(items),
      reset: async (items) => inner.reset(items),
      async ping(partition) {
        if (partition !== undefined && down.has(partition)) throw new Error(`node ${partition} refused`);
      },
    };
    return { store, down, calls };
  }

  it("a dead node degrades only the subjects it holds; the others stay exact", async () => {
    const nodes = twoNodes();
    const events: HealthEvent[] = [];
    const limiter = createLimiter({
      store: nodes.store,
      limits: [{ ...minute, limit: 1_000 }],
      breaker: { failingForMs: 0, failureThreshold: 3, coolDownMs: 60_000 },
      hooks: { onHealthChange: (event) => events.push(event) },
    });
    nodes.down.add("A");
    for (let i = 0; i < 50; i++) {
      const [onA, onB] = await Promise.all([
        limiter.check({ subject: { user: "a-1" } }),
        limiter.check({ subject: { user: "b-1" } }),
      ]);
      expect(onA.degraded).toBe(true);
      expect(onB.degraded).toBeUndefined();
      expect(onB.limits[0]?.used).toBe(i + 1);
    }
    expect(nodes.calls.A).toBe(3); // skipped once its breaker opened
    expect(limiter.health().partitions.map((p) => [p.partition, p.state])).toEqual([
      ["A", "open"],
      ["B", "closed"],
    ]);
    expect(events.map((e) => [e.type, e.partition])).toEqual([["store_degraded", "A"]]);
    expect(events[0]?.error).toBe("node A refused");
  });

  it("an open breaker is probed after its cool-down and closes with no traffic: one event each way", async () => {
    const slow = slowStore(0);
    const events: HealthEvent[] = [];
    const limiter = createLimiter({
      store: slow.store,
      limits: [minute],
      breaker: { failingForMs: 0, failureThreshold: 1, coolDownMs: 50 },
    });
    limiter.onHealthChange((event) => events.push(event));
    slow.state.down = true;
    for (let i = 0; i < 20; i++) expect((await limiter.check({ subject: { user: "u" } })).degraded).toBe(true);
    expect(limiter.health().degraded).toBe(true);
    await sleep(200); // probes fail meanwhile, each re-opening for another cool-down
    expect(slow.state.pings).toBeGreaterThan(0);
    slow.state.down = false;
    const deadline = Date.now() + 2_000;
    while (limiter.health().degraded && Date.now() < deadline) await sleep(10);
    expect(limiter.health().degraded).toBe(false);
    expect(events.map((e) => e.type)).toEqual(["store_degraded", "store_recovered"]);
    expect((await limiter.check({ subject: { user: "u" } })).degraded).toBeUndefined();
  });
});

describe("failMode local: the fallback enforces a per-process share", () => {
  it("during an outage, a share of 0.5 admits half the limit, degraded, then denies", async () => {
    const slow = slowStore(0);
    slow.state.down = true;
    const limiter = createLimiter({
      store: slow.store,
      limits: [{ ...minute, limit: 10 }],
      fallbackShare: 0.5,
      breaker: { failingForMs: 0, failureThreshold: 1, coolDownMs: 60_000 },
    });
    const decisions = [];
    for (let i = 0; i < 8; i++) decisions.push(await limiter.check({ subject: { user: "u" } }));
    expect(decisions.map((d) => d.allowed)).toEqual([true, true, true, true, true, false, false, false]);
    expect(decisions.every((d) => d.degraded === true)).toBe(true);
    expect(decisions[0]?.receipt?.store).toBe("fallback");
    expect(decisions[0]?.limits[0]?.limit).toBe(5);
    expect(decisions[5]?.reason).toBe("limit_exceeded");
  });

  it("open limits pass and closed ones deny, whatever the fallback says", async () => {
    const slow = slowStore(0);
    slow.state.down = true;
    const make = (failMode: "open" | "closed") =>
      createLimiter({ store: slow.store, limits: [{ ...minute, limit: 1, failMode }], breaker: false });
    const open = make("open");
    const closed = make("closed");
    for (let i = 0; i < 3; i++) {
      expect(await open.check({ subject: { user: "u" } })).toMatchObject({
        allowed: true,
        reason: "store_unavailable",
      });
      expect(await closed.check({ subject: { user: "u" } })).toMatchObject({
        allowed: false,
        reason: "store_unavailable",
      });
    }
  });

  it("rejects a fallbackShare outside (0, 1]", () => {
    expect(() => createLimiter({ store: memoryStore(), limits: [minute], fallbackShare: 0 })).toThrow(/fallbackShare/);
  });
});

describe("compensation: an abandoned settle or refund counts once or not at all", () => {
  const tokens: LimitSpec = {
    name: "tokens",
    per: "user",
    algorithm: "fixed-window",
    limit: 1_000,
    window: "1h",
    unit: "tokens",
  };

  /** A memory store whose adjust calls wait at a gate the test opens (a store stalled, then answering). */
  function setup() {
    const inner = memoryStore();
    let open: () => void = () => {};
    let gate: Promise<void> | undefined;
    let failing = false;
    const store: Store = {
      name: "gated",
      decide: async (request) => inner.decide(request) as DecideResult,
      adjust: async (items) => {
        const waitFor = gate;
        if (waitFor) await waitFor;
        if (failing) throw new Error("ECONNRESET");
        inner.adjust(items);
      },
      release: async (items) => inner.release(items),
      reset: async (items) => inner.reset(items),
    };
    const control = {
      close() {
        gate = new Promise<void>((resolve) => (open = resolve));
      },
      open(fail = false) {
        failing = fail;
        gate = undefined;
        open();
      },
    };
    const compensations: boolean[] = [];
    const limiter = createLimiter({
      store,
      clock: systemClock,
      timeoutMs: 30,
      breaker: false,
      limits: [tokens],
      hooks: { onCompensation: ({ applied }) => compensations.push(applied) },
    });
    const used = () => {
      const ref: CounterRef = { ...(limiter.config.global[0] as { counter: string; limit: never }), id: "u" };
      return (inner.decide({ items: [{ ...ref, cost: 0 }], charge: false }) as DecideResult).outcomes[0]?.used;
    };
    const settled = async () => {
      for (let i = 0; i < 20; i++) await sleep(5);
    };
    return { control, limiter, used, compensations, settled };
  }

  const adjust = (limiter: ReturnType<typeof createLimiter>, operation: string, decision: Decision, cost: number) =>
    operation === "settle" ? limiter.settle(decision, cost) : limiter.refund(decision);

  it.each([
    ["settle", 30],
    ["refund", 0],
  ] as const)("%s abandoned and never retried: undone when it lands", async (operation, cost) => {
    const { control, limiter, used, compensations, settled } = setup();
    const decision = await limiter.check({ subject: { user: "u" }, cost: 10 });
    expect(used()).toBe(10);
    control.close();
    expect((await adjust(limiter, operation, decision, cost)).applied).toBe(false);
    control.open(); // the stalled call lands after the caller was told "not applied"
    await settled();
    expect(compensations).toEqual([true]);
    expect(used()).toBe(10);
  });

  it.each([
    ["settle", 30, 30],
    ["refund", 0, 0],
  ] as const)(
    "%s abandoned, landed and undone, then retried: applied exactly once",
    async (operation, cost, expected) => {
      const { control, limiter, used, compensations, settled } = setup();
      const decision = await limiter.check({ subject: { user: "u" }, cost: 10 });
      control.close();
      expect((await adjust(limiter, operation, decision, cost)).applied).toBe(false);
      control.open();
      await settled();
      expect((await adjust(limiter, operation, decision, cost)).applied).toBe(true);
      expect(compensations).toEqual([true]);
      expect(used()).toBe(expected);
    },
  );

  it.each([
    ["settle", 30, 30],
    ["refund", 0, 0],
  ] as const)(
    "%s retried while the abandoned call is in flight: the retry takes it when it lands, nothing undone",
    async (operation, cost, expected) => {
      const { control, limiter, used, compensations, settled } = setup();
      const decision = await limiter.check({ subject: { user: "u" }, cost: 10 });
      control.close();
      expect((await adjust(limiter, operation, decision, cost)).applied).toBe(false);
      const retry = adjust(limiter, operation, decision, cost);
      control.open();
      expect((await retry).applied).toBe(true);
      await settled();
      expect(compensations).toEqual([]);
      expect(used()).toBe(expected);
    },
  );

  it.each([
    ["settle", 30, 30],
    ["refund", 0, 0],
  ] as const)(
    "%s retried while the abandoned call is in flight, which then fails: the retry is sent itself",
    async (operation, cost, expected) => {
      const { control, limiter, used, settled } = setup();
      const decision = await limiter.check({ subject: { user: "u" }, cost: 10 });
      control.close();
      expect((await adjust(limiter, operation, decision, cost)).applied).toBe(false);
      const retry = adjust(limiter, operation, decision, cost);
      control.open(true); // the stalled call fails; the retry's own call must then go through
      await Promise.resolve();
      control.open(false);
      expect((await retry).applied).toBe(true);
      await settled();
      expect(used()).toBe(expected);
    },
  );
});
