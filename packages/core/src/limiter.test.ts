import { afterEach, describe, expect, it, vi } from "vitest";
import { type ManualClock, manualClock } from "./clock.js";
import type { Decision } from "./decision.js";
import { ConfigError, InputError, TollgateError } from "./errors.js";
import type { LimitSpec } from "./limit.js";
import { type CheckInput, createLimiter, type LimiterOptions } from "./limiter.js";
import { type MemoryStore, memoryStore } from "./memory-store.js";
import { noopLimiter } from "./noop-limiter.js";
import type { DecideRequest, Store } from "./store.js";

const START = Date.UTC(2026, 0, 5, 12, 0, 0); // a Monday, noon UTC

const minute: LimitSpec = { name: "minute", per: "user", algorithm: "fixed-window", limit: 5, window: "1m" };

function setup(options: Partial<LimiterOptions> = {}) {
  const clock = options.clock ? (options.clock as ManualClock) : manualClock(START);
  const store = (options.store as MemoryStore | undefined) ?? memoryStore({ clock });
  const limiter = createLimiter({ limits: [minute], ...options, store, clock });
  return { clock, store, limiter };
}

/** A store that fails every call (synchronously, or with a rejected promise), counting calls. */
function brokenStore(mode: "throw" | "reject" | "hang" = "throw") {
  const calls = { decide: 0, adjust: 0, release: 0, reset: 0 };
  const fail = (op: keyof typeof calls) => {
    calls[op]++;
    if (mode === "throw") throw new Error(`${op}: connection refused`);
    if (mode === "reject") return Promise.reject(new Error(`${op}: connection refused`));
    return new Promise<never>(() => {});
  };
  const store: Store = {
    name: "broken",
    decide: () => fail("decide"),
    adjust: () => fail("adjust") as never,
    release: () => fail("release") as never,
    reset: () => fail("reset") as never,
  };
  return { store, calls };
}

/** A memory store whose failure can be switched on and off, counting decide calls. */
function flakyStore(clock: ManualClock) {
  const inner = memoryStore({ clock });
  const state = { down: false, decideCalls: 0, adjustFails: false };
  const store: Store = {
    name: "flaky",
    decide(request: DecideRequest) {
      state.decideCalls++;
      if (state.down) throw new Error("ECONNRESET");
      return inner.decide(request);
    },
    adjust(items) {
      if (state.down || state.adjustFails) return Promise.reject(new Error("ECONNRESET"));
      return inner.adjust(items);
    },
    release(items) {
      if (state.down || state.adjustFails) throw new Error("ECONNRESET");
      return inner.release(items);
    },
    reset: (items) => inner.reset(items),
  };
  return { store, state, inner };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("DESIGN 10: bad input is an InputError naming the field, and nothing is counted", () => {
  const limits: LimitSpec[] = [
    minute,
    { name: "everyone", per: "global", algorithm: "fixed-window", limit: 1_000, window: "1h" },
    { name: "per-ip", per: "ip", algorithm: "fixed-window", limit: 1_000, window: "1h" },
    { name: "tokens", per: "user", algorithm: "token-bucket", limit: 1_000, window: "1m", unit: "tokens" },
  ];
  const config: Partial<LimiterOptions> = {
    limits,
    plans: { "signed-in": { limits: [] }, anonymous: { limits: [] } },
    categories: { llm_call: { limits: [] } },
  };
  const valid = { subject: { user: "u-42", ip: "203.0.113.7" } };

  const cases: [string, unknown, string][] = [
    ["input not an object", null, "input"],
    ["subject not an object (string)", { subject: "u-42" }, "subject"],
    ["subject null", { subject: null }, "subject"],
    ["subject an array", { subject: ["u-42"] }, "subject"],
    ["subject missing", {}, "subject"],
    ["unknown subject field", { subject: { user: "u-42", tenant: "acme" } }, "subject.tenant"],
    ["empty subject (a resolver that found no one must not fail open)", { subject: {} }, "subject"],
    ["subject with only undefined fields", { subject: { user: undefined } }, "subject"],
    ["empty id", { subject: { user: "", ip: "203.0.113.7" } }, "subject.user"],
    ["10 KB id", { subject: { user: "x".repeat(10_240) } }, "subject.user"],
    ["non-string id", { subject: { user: 42 } }, "subject.user"],
    ["cost -1", { ...valid, cost: -1 }, "cost"],
    ["cost NaN", { ...valid, cost: Number.NaN }, "cost"],
    ["cost 1.5", { ...valid, cost: 1.5 }, "cost"],
    ["cost Infinity", { ...valid, cost: Number.POSITIVE_INFINITY }, "cost"],
    ["cost 1e13", { ...valid, cost: 1e13 }, "cost"],
    ['cost "3"', { ...valid, cost: "3" }, "cost"],
    ["unknown plan", { ...valid, plan: "platinum" }, "plan"],
    ["plan not a string", { ...valid, plan: 7 }, "plan"],
    ["unknown category", { ...valid, category: "nope" }, "category"],
    ["category with a space", { ...valid, category: "llm call" }, "category"],
    ["byok not a boolean", { ...valid, byok: "yes" }, "byok"],
    ["dryRun not a boolean", { ...valid, dryRun: 1 }, "dryRun"],
  ];

  it.each(cases)("%s", async (_label, input, field) => {
    const { limiter } = setup(config);
    const error = await limiter.check(input as CheckInput).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).field).toBe(field);
    expect((error as InputError).message).toContain(field);
    const usage = await limiter.peek(valid);
    expect(usage.limits.map((l) => [l.name, l.used])).toEqual([
      ["minute", 0],
      ["everyone", 0],
      ["per-ip", 0],
      ["tokens", 0],
    ]);
  });

  it("identifiers with {, }, : and unicode are accepted and kept apart", async () => {
    const { limiter } = setup({ limits: [{ ...minute, limit: 1 }] });
    for (const user of ["a", "{a}", "a:b", "ü-名前-🚀", "x".repeat(256)]) {
      expect((await limiter.check({ subject: { user } })).allowed).toBe(true);
    }
    expect((await limiter.check({ subject: { user: "{a}" } })).allowed).toBe(false);
  });
});

describe("plans, categories, byok, cost, dryRun", () => {
  const plans = {
    anonymous: { limits: [{ ...minute, per: "ip" as const, limit: 2 }] },
    "signed-in": { limits: [{ ...minute, limit: 5 }] },
    pro: { limits: [{ ...minute, limit: 100 }] },
  };

  it("a subject with a user defaults to signed-in, one with only an ip to anonymous", async () => {
    const { limiter } = setup({ limits: [], plans });
    const user = await limiter.check({ subject: { user: "u-1", ip: "203.0.113.7" } });
    expect(user.plan).toBe("signed-in");
    expect(user.limits.map((l) => [l.name, l.limit, l.subject])).toEqual([["minute", 5, "user:u-1"]]);
    const anonymous = await limiter.check({ subject: { ip: "203.0.113.7" } });
    expect(anonymous.plan).toBe("anonymous");
    expect(anonymous.limits.map((l) => [l.limit, l.subject])).toEqual([[2, "ip:203.0.113.7"]]);
    const explicit = await limiter.check({ subject: { user: "u-1" }, plan: "pro" });
    expect(explicit.plan).toBe("pro");
    expect(explicit.limits[0]?.limit).toBe(100);
  });

  it("planFor overrides the default plan", async () => {
    const { limiter } = setup({ limits: [], plans, planFor: () => "pro" });
    expect((await limiter.check({ subject: { ip: "203.0.113.7", user: "u" } })).plan).toBe("pro");
  });

  it("limit.categories filters a limit; a category's limits apply only to that category", async () => {
    const { limiter } = setup({
      limits: [minute, { ...minute, name: "llm-only", categories: ["llm_call"] }],
      categories: {
        llm_call: { limits: [{ ...minute, name: "llm-cat", limit: 2 }] },
        collections: { limits: [{ ...minute, name: "col-cat" }] },
      },
    });
    const plain = await limiter.check({ subject: { user: "u" } });
    expect(plain.limits.map((l) => l.name)).toEqual(["minute"]);
    const llm = await limiter.check({ subject: { user: "u" }, category: "llm_call" });
    expect(llm.category).toBe("llm_call");
    expect(llm.limits.map((l) => l.name)).toEqual(["minute", "llm-only", "llm-cat"]);
    const col = await limiter.check({ subject: { user: "u" }, category: "collections" });
    expect(col.limits.map((l) => l.name)).toEqual(["minute", "col-cat"]);
  });

  it("byok: true skips token limits and byokExempt limits; cost applies to token limits only", async () => {
    const { limiter } = setup({
      limits: [
        minute,
        { name: "tokens", per: "user", algorithm: "token-bucket", limit: 1_000, window: "1m", unit: "tokens" },
        { ...minute, name: "exempt", byokExempt: true },
      ],
    });
    const paid = await limiter.check({ subject: { user: "u" }, cost: 250 });
    expect(paid.limits.map((l) => [l.name, l.used])).toEqual([
      ["minute", 1],
      ["tokens", 250],
      ["exempt", 1],
    ]);
    const byok = await limiter.check({ subject: { user: "u" }, cost: 250, byok: true });
    expect(byok.limits.map((l) => [l.name, l.used])).toEqual([["minute", 2]]);
    const after = await limiter.peek({ subject: { user: "u" } });
    expect(after.limits.map((l) => [l.name, l.used])).toEqual([
      ["minute", 2],
      ["tokens", 250],
      ["exempt", 1],
    ]);
  });

  it("dryRun evaluates (including a denial) without charging", async () => {
    const { limiter } = setup({ limits: [{ ...minute, limit: 1 }] });
    const dry = await limiter.check({ subject: { user: "u" }, dryRun: true });
    expect(dry.allowed).toBe(true);
    expect(dry.receipt).toBeUndefined();
    expect(dry.limits[0]?.used).toBe(0);
    await limiter.check({ subject: { user: "u" } });
    const dryDenied = await limiter.check({ subject: { user: "u" }, dryRun: true, cost: 1 });
    expect(dryDenied.allowed).toBe(false);
    expect((await limiter.peek({ subject: { user: "u" } })).limits[0]?.used).toBe(1);
  });

  it("retryAfter is the longest wait among the denying limits (whole seconds, rounded up)", async () => {
    const { limiter, clock } = setup({
      limits: [
        { ...minute, limit: 1 },
        { ...minute, name: "hour", limit: 1, window: "1h" },
      ],
    });
    clock.set(START + 59_500); // window ends: minute at START + 60 s, hour at START + 1 h (START is on the hour)
    await limiter.check({ subject: { user: "u" } });
    const denied = await limiter.check({ subject: { user: "u" } });
    expect(denied.allowed).toBe(false);
    expect(denied.reason).toBe("limit_exceeded");
    expect(denied.retryAfter).toBe(3_600 - 59); // ceil(3_540_500 ms)
    expect(denied.limits.map((l) => l.retryAfter)).toEqual([1, 3_541]);
  });

  it("reason is quota_exceeded when a calendar quota binds, with retry-after to the next period", async () => {
    const { limiter } = setup({
      limits: [minute, { name: "daily", per: "user", algorithm: "quota", period: "day", limit: 1 }],
    });
    await limiter.check({ subject: { user: "u" } });
    const denied = await limiter.check({ subject: { user: "u" } });
    expect(denied.reason).toBe("quota_exceeded");
    expect(denied.retryAfter).toBe(12 * 3_600); // noon to midnight UTC
    expect(denied.limits.find((l) => l.name === "daily")?.window).toBe(86_400);
  });

  it("a cost that can never fit is cost_exceeds_limit with no retryAfter", async () => {
    const { limiter } = setup({
      limits: [{ name: "tokens", per: "user", algorithm: "fixed-window", limit: 100, window: "1m", unit: "tokens" }],
    });
    const denied = await limiter.check({ subject: { user: "u" }, cost: 101 });
    expect(denied).toMatchObject({ allowed: false, reason: "cost_exceeds_limit" });
    expect(denied.retryAfter).toBeUndefined();
  });

  it("settle charges only token limits; refund gives back everything the decision charged", async () => {
    const { limiter } = setup({
      limits: [
        minute,
        { name: "tokens", per: "user", algorithm: "fixed-window", limit: 1_000, window: "1m", unit: "tokens" },
      ],
    });
    const decision = await limiter.check({ subject: { user: "u" }, cost: 100 });
    expect(await limiter.settle(decision, 300)).toEqual({ applied: true });
    let usage = await limiter.peek({ subject: { user: "u" } });
    expect(usage.limits.map((l) => l.used)).toEqual([1, 300]);
    const second = await limiter.check({ subject: { user: "u" }, cost: 50 });
    expect(await limiter.refund(second)).toEqual({ applied: true });
    usage = await limiter.peek({ subject: { user: "u" } });
    expect(usage.limits.map((l) => l.used)).toEqual([1, 300]);
    await expect(limiter.settle(decision, -1)).rejects.toBeInstanceOf(InputError);
  });

  it("checkSync answers like check on a synchronous store and refuses an asynchronous one", async () => {
    const { limiter } = setup({ limits: [{ ...minute, limit: 1 }] });
    expect(limiter.checkSync({ subject: { user: "u" } }).allowed).toBe(true);
    expect(limiter.checkSync({ subject: { user: "u" } }).allowed).toBe(false);
    const asyncStore = brokenStore("reject").store;
    const other = createLimiter({ store: asyncStore, limits: [minute] });
    expect(() => other.checkSync({ subject: { user: "u" } })).toThrow(TollgateError);
  });

  it("checkSync degrades as check does; only a fallback that answers with a promise is not waited for", async () => {
    const clock = manualClock(START);
    const limits = [{ ...minute, limit: 2 }];
    const failing = () => ({ ...brokenStore("throw").store, synchronous: true });
    const viaCheck = createLimiter({ store: failing(), clock, limits });
    const viaSync = createLimiter({ store: failing(), clock, limits });
    const checked: Decision[] = [];
    const synced: Decision[] = [];
    for (let i = 0; i < 3; i++) {
      checked.push(await viaCheck.check({ subject: { user: "u" } }));
      synced.push(viaSync.checkSync({ subject: { user: "u" } }));
    }
    expect(synced).toEqual(checked);
    expect(synced.map((d) => [d.allowed, d.degraded, d.limits[0]?.used])).toEqual([
      [true, true, 1],
      [true, true, 2],
      [false, true, 2],
    ]);
    const inner = memoryStore({ clock });
    const asyncFallback: Store = { ...inner, name: "async", synchronous: false, decide: async (r) => inner.decide(r) };
    const limiter = createLimiter({ store: failing(), clock, limits, fallback: asyncFallback });
    const waited = await limiter.check({ subject: { user: "u" } });
    expect([waited.degraded, waited.limits.length]).toEqual([true, 1]);
    const now = limiter.checkSync({ subject: { user: "u" } });
    expect(now).toMatchObject({ allowed: true, reason: "store_unavailable", degraded: true, limits: [] });
  });
});

describe("DESIGN 8: failure is a setting, not an accident", () => {
  const open: LimitSpec = { ...minute, failMode: "open" };
  const closed: LimitSpec = { ...minute, name: "strict", failMode: "closed" };

  it.each([["throw"], ["reject"]] as const)(
    "a store that fails (%s): allowed, store_unavailable, degraded, when every limit fails open",
    async (mode) => {
      const errors: [unknown, string][] = [];
      const { limiter } = setup({
        store: brokenStore(mode).store,
        limits: [open, { ...closed, mode: "monitor" }],
        hooks: { onStoreError: (error, operation) => errors.push([error, operation]) },
      });
      const decision = await limiter.check({ subject: { user: "u" } });
      expect(decision).toMatchObject({ allowed: true, reason: "store_unavailable", degraded: true });
      expect(decision.retryAfter).toBeUndefined();
      expect(decision.receipt).toBeUndefined();
      expect(errors).toHaveLength(1);
      expect(errors[0]?.[1]).toBe("decide");
    },
  );

  it("an enforced limit with failMode closed denies, with a retryAfter", async () => {
    const { limiter } = setup({ store: brokenStore().store, limits: [open, closed] });
    const decision = await limiter.check({ subject: { user: "u" } });
    expect(decision).toMatchObject({ allowed: false, reason: "store_unavailable", degraded: true });
    expect(decision.retryAfter).toBeGreaterThanOrEqual(1);
  });

  it("a store that never answers times out within timeoutMs (default 100 ms)", async () => {
    vi.useFakeTimers();
    const { limiter } = setup({ store: brokenStore("hang").store, limits: [open] });
    let decision: Awaited<ReturnType<typeof limiter.check>> | undefined;
    void limiter.check({ subject: { user: "u" } }).then((d) => {
      decision = d;
    });
    await vi.advanceTimersByTimeAsync(99);
    expect(decision).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    await vi.advanceTimersByTimeAsync(1); // the deadline lets the sockets be read once (setImmediate) before giving up
    expect(decision).toMatchObject({ allowed: true, reason: "store_unavailable", degraded: true });
    expect(vi.getTimerCount()).toBe(0);
  });

  it("a configured timeoutMs is honoured", async () => {
    vi.useFakeTimers();
    const { limiter } = setup({ store: brokenStore("hang").store, limits: [closed], timeoutMs: 20 });
    const pending = limiter.check({ subject: { user: "u" } });
    await vi.advanceTimersByTimeAsync(20);
    await vi.advanceTimersByTimeAsync(1);
    await expect(pending).resolves.toMatchObject({ allowed: false, reason: "store_unavailable" });
  });

  it("the circuit breaker opens after failureThreshold failures, skips the store, half-opens after coolDownMs, closes on success", async () => {
    const clock = manualClock(START);
    const flaky = flakyStore(clock);
    const changes: string[] = [];
    const { limiter } = setup({
      clock,
      store: flaky.store as MemoryStore,
      breaker: { failingForMs: 0, failureThreshold: 3, coolDownMs: 1_000 },
      hooks: { onBreakerChange: (state) => changes.push(state) },
    });
    flaky.state.down = true;
    for (let i = 0; i < 3; i++) expect((await limiter.check({ subject: { user: "u" } })).degraded).toBe(true);
    expect(flaky.state.decideCalls).toBe(3);
    expect(limiter.breakerState).toBe("open");
    expect(changes).toEqual(["open"]);
    for (let i = 0; i < 10; i++) {
      expect(await limiter.check({ subject: { user: "u" } })).toMatchObject({ degraded: true });
    }
    expect(flaky.state.decideCalls).toBe(3); // not called while open
    clock.advance(999);
    await limiter.check({ subject: { user: "u" } });
    expect(flaky.state.decideCalls).toBe(3);
    flaky.state.down = false;
    clock.advance(1);
    const trial = await limiter.check({ subject: { user: "u" } });
    expect(flaky.state.decideCalls).toBe(4);
    expect(trial.degraded).toBeUndefined();
    expect(trial.allowed).toBe(true);
    expect(limiter.breakerState).toBe("closed");
    expect(changes).toEqual(["open", "half-open", "closed"]);
  });

  it("a failed half-open trial opens the breaker for another cool-down", async () => {
    const clock = manualClock(START);
    const flaky = flakyStore(clock);
    const { limiter } = setup({
      clock,
      store: flaky.store as MemoryStore,
      breaker: { failingForMs: 0, failureThreshold: 1, coolDownMs: 1_000 },
    });
    flaky.state.down = true;
    await limiter.check({ subject: { user: "u" } });
    clock.advance(1_000);
    await limiter.check({ subject: { user: "u" } }); // the trial, failing
    expect(flaky.state.decideCalls).toBe(2);
    expect(limiter.breakerState).toBe("open");
    clock.advance(500);
    await limiter.check({ subject: { user: "u" } });
    expect(flaky.state.decideCalls).toBe(2);
  });

  it("the fallback store decides during the outage (degraded) and takes its own settle", async () => {
    const clock = manualClock(START);
    const fallback = memoryStore({ clock });
    const tokens: LimitSpec = {
      name: "tokens",
      per: "user",
      algorithm: "fixed-window",
      limit: 10,
      window: "1m",
      unit: "tokens",
    };
    const { limiter } = setup({ clock, store: brokenStore().store, fallback, limits: [tokens], breaker: false });
    const first = await limiter.check({ subject: { user: "u" }, cost: 6 });
    expect(first).toMatchObject({ allowed: true, degraded: true });
    expect(first.receipt?.store).toBe("fallback");
    expect(first.limits[0]?.used).toBe(6);
    expect(await limiter.settle(first, 2)).toEqual({ applied: true });
    const second = await limiter.check({ subject: { user: "u" }, cost: 8 });
    expect(second).toMatchObject({ allowed: true, degraded: true });
    const third = await limiter.check({ subject: { user: "u" }, cost: 1 });
    expect(third).toMatchObject({ allowed: false, degraded: true, reason: "limit_exceeded" });
  });

  it("settle, refund and release never throw when the store fails: applied false", async () => {
    const clock = manualClock(START);
    const flaky = flakyStore(clock);
    const errors: string[] = [];
    const { limiter } = setup({
      clock,
      store: flaky.store as MemoryStore,
      limits: [
        { name: "tokens", per: "user", algorithm: "fixed-window", limit: 100, window: "1m", unit: "tokens" },
        { name: "inflight", per: "user", algorithm: "concurrency", limit: 2 },
      ],
      hooks: { onStoreError: (_e, op) => errors.push(op) },
    });
    const decision = await limiter.check({ subject: { user: "u" }, cost: 10 });
    expect(decision.allowed).toBe(true);
    flaky.state.adjustFails = true;
    const settled = await limiter.settle(decision, 20);
    expect(settled.applied).toBe(false);
    const refunded = await limiter.refund(decision);
    expect(refunded.applied).toBe(false);
    const released = await limiter.release(decision);
    expect(released.applied).toBe(false);
    // refund = adjust (fails) + release of its lease (fails); then the explicit release.
    expect(errors).toEqual(["adjust", "adjust", "release", "release"]);
  });

  it("settle never throws when the breaker is open either", async () => {
    const clock = manualClock(START);
    const flaky = flakyStore(clock);
    const { limiter } = setup({
      clock,
      store: flaky.store as MemoryStore,
      limits: [{ name: "tokens", per: "user", algorithm: "fixed-window", limit: 100, window: "1m", unit: "tokens" }],
      breaker: { failingForMs: 0, failureThreshold: 1 },
    });
    const decision = await limiter.check({ subject: { user: "u" }, cost: 10 });
    flaky.state.down = true;
    await limiter.check({ subject: { user: "u" } });
    expect(limiter.breakerState).toBe("open");
    expect((await limiter.settle(decision, 30)).applied).toBe(false);
  });
});

describe("update and reset", () => {
  it("update() with an invalid config throws ConfigError and keeps the old config", async () => {
    const { limiter } = setup({ limits: [{ ...minute, limit: 1 }] });
    const before = limiter.config;
    expect(() => limiter.update({ limits: [{ ...minute, window: "1x" }] })).toThrow(ConfigError);
    expect(limiter.config).toBe(before);
    await limiter.check({ subject: { user: "u" } });
    expect((await limiter.check({ subject: { user: "u" } })).allowed).toBe(false);
  });

  it("update() with a valid config applies to the next decision", async () => {
    const { limiter } = setup({ limits: [{ ...minute, limit: 1 }] });
    await limiter.check({ subject: { user: "u" } });
    limiter.update({ limits: [{ ...minute, limit: 3 }] });
    const next = await limiter.check({ subject: { user: "u" } });
    expect(next.allowed).toBe(true);
    expect(next.limits[0]?.limit).toBe(3);
  });

  it("reset() clears only that subject's counters", async () => {
    const { limiter } = setup({
      limits: [
        { ...minute, limit: 1 },
        { name: "everyone", per: "global", algorithm: "fixed-window", limit: 100, window: "1m" },
      ],
      plans: { pro: { limits: [{ ...minute, name: "pro-minute", limit: 1 }] } },
    });
    await limiter.check({ subject: { user: "a" }, plan: "pro" });
    await limiter.check({ subject: { user: "b" }, plan: "pro" });
    await limiter.reset({ user: "a" });
    const a = await limiter.peek({ subject: { user: "a" }, plan: "pro" });
    const b = await limiter.peek({ subject: { user: "b" }, plan: "pro" });
    expect(a.limits.map((l) => [l.name, l.used])).toEqual([
      ["minute", 0],
      ["everyone", 2],
      ["pro-minute", 0],
    ]);
    expect(b.limits.map((l) => [l.name, l.used])).toEqual([
      ["minute", 1],
      ["everyone", 2],
      ["pro-minute", 1],
    ]);
  });

  it("reset({ limit }) clears only the named limit", async () => {
    const { limiter } = setup({ limits: [minute, { ...minute, name: "hour", window: "1h" }] });
    await limiter.check({ subject: { user: "a" } });
    await limiter.reset({ user: "a" }, { limit: "hour" });
    const a = await limiter.peek({ subject: { user: "a" } });
    expect(a.limits.map((l) => l.used)).toEqual([1, 0]);
  });
});

describe("concurrency: acquire and release", () => {
  it("acquire takes a lease that release gives back", async () => {
    const clock = manualClock(Date.UTC(2026, 0, 1));
    const limiter = createLimiter({
      store: memoryStore({ clock }),
      clock,
      limits: [{ name: "in-flight", per: "user", algorithm: "concurrency", limit: 1 }],
    });
    const first = await limiter.acquire({ subject: { user: "a" } });
    expect(first.allowed).toBe(true);
    expect((await limiter.acquire({ subject: { user: "a" } })).allowed).toBe(false);
    expect(await limiter.release(first)).toEqual({ applied: true });
    expect((await limiter.acquire({ subject: { user: "a" } })).allowed).toBe(true);
  });
});

describe("subjects a limit cannot find", () => {
  it("reports every miss to onSubjectMissing, denies before calling the store, and skips byok-exempt limits silently", async () => {
    const events: string[] = [];
    const decide = vi.fn();
    const clock = manualClock(START);
    const inner = memoryStore({ clock });
    const store: Store = {
      ...inner,
      synchronous: true,
      decide(request) {
        decide(request);
        return inner.decide(request);
      },
    };
    const { limiter } = setup({
      store,
      clock,
      limits: [
        minute,
        { name: "org", per: "org", algorithm: "fixed-window", limit: 5, window: "1m", whenMissing: "skip" },
        { name: "byok", per: "project", algorithm: "fixed-window", limit: 5, window: "1m", byokExempt: true },
      ],
      hooks: { onSubjectMissing: (missing, action) => void events.push(`${action}:${missing.limit}:${missing.field}`) },
    });
    const denied = await limiter.check({ subject: { ip: "198.51.100.1" }, byok: true });
    expect(denied).toMatchObject({ allowed: false, reason: "subject_missing" });
    expect(decide).not.toHaveBeenCalled();
    expect(events).toEqual(["deny:minute:user", "skip:org:org"]);
    expect(limiter.checkSync({ subject: { ip: "198.51.100.1" }, byok: true }).reason).toBe("subject_missing");
    const allowed = await limiter.check({ subject: { user: "u", project: "p" } });
    expect(allowed).toMatchObject({ allowed: true, skipped: [{ limit: "org", field: "org" }] });
  });
});

describe("noopLimiter: limiting switched off without null checks", () => {
  it("admits everything, counts nothing, validates nothing and never fails", async () => {
    const limiter = noopLimiter();
    const odd = { subject: {} } as CheckInput;
    for (const decision of [await limiter.check(odd), limiter.checkSync(odd), await limiter.peek(odd)]) {
      expect(decision).toEqual({ allowed: true, limits: [] });
    }
    const first = limiter.checkSync({ subject: { user: "u" } });
    first.allowed = false;
    expect(limiter.checkSync({ subject: { user: "u" } }).allowed).toBe(true);
    expect(await limiter.settle(first, 10)).toEqual({ applied: true });
    expect(await limiter.refund(first)).toEqual({ applied: true });
    expect(limiter.health()).toMatchObject({ state: "closed", degraded: false });
    expect(limiter.store.synchronous).toBe(true);
  });
});
