import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Clock, type ManualClock, manualClock } from "../clock.js";
import type { CompiledLimit } from "../config.js";
import type { LimitSpec } from "../limit.js";
import { createLimiter, type Limiter } from "../limiter.js";
import type { Store } from "../store.js";
import { CONFORMANCE_LIMITS, HOSTILE_IDS } from "./fixtures.js";
import { differences, operations, peekAll, play, startTime } from "./operations.js";
import { referenceStore } from "./reference-store.js";

/** A store under test: how to make a fresh, empty one whose time is read from `clock`. */
export interface ConformanceTarget {
  name: string;
  /** A fresh, empty store (isolated from every other: use a unique key prefix) reading time from `clock`. */
  create(clock: Clock): Store | Promise<Store>;
  destroy?(store: Store): void | Promise<void>;
  /** Scales the number of generated scenarios (1 = the default thousand per algorithm). */
  runsScale?: number;
}

const GROUPS: Record<string, string[]> = {
  "fixed-window": ["fw", "mon"],
  "sliding-window": ["sw", "swm"],
  "token-bucket": ["tb"],
  quota: ["q", "qm"],
  concurrency: ["cc"],
  "all algorithms together": CONFORMANCE_LIMITS.map((l) => l.limit.name),
};

async function withStore<T>(target: ConformanceTarget, clock: Clock, run: (store: Store) => Promise<T>): Promise<T> {
  const store = await target.create(clock);
  try {
    return await run(store);
  } finally {
    await target.destroy?.(store);
  }
}

/** Replays a generated scenario on the store and on the reference model; fails at the first difference. */
async function sameAsReference(
  target: ConformanceTarget,
  limits: readonly CompiledLimit[],
  ids: readonly string[],
  start: number,
  ops: Parameters<typeof play>[1][],
) {
  const clock = manualClock(start);
  const reference = referenceStore(clock);
  await withStore(target, clock, async (store) => {
    const storeHistory = { receipts: [], leaseSeq: 0 };
    const referenceHistory = { receipts: [], leaseSeq: 0 };
    const advance = (ms: number) => clock.advance(ms);
    for (const [step, op] of ops.entries()) {
      const got = await play(store, op, limits, ids, storeHistory, advance);
      const want = await play(reference, op, limits, ids, referenceHistory, () => {});
      const labels = op.kind === "decide" ? op.picks.map((p) => `${limits[p.limit]?.limit.name}/${p.id}`) : [];
      if (got && want) {
        const problems = differences(got, want, labels);
        if (problems.length) throw new Error(`step ${step} (${JSON.stringify(op)}): ${problems.join("; ")}`);
      }
      const all = await peekAll(store, limits, ids);
      const expected = await peekAll(reference, limits, ids);
      const labelsAll = limits.flatMap(({ limit }) => ids.map((id) => `${limit.name}/${id}`));
      const problems = differences(all, expected, labelsAll);
      if (problems.length) throw new Error(`state after step ${step} (${JSON.stringify(op)}): ${problems.join("; ")}`);
    }
  });
}

function limiterOn(store: Store, clock: ManualClock, limits: LimitSpec[]): Limiter {
  return createLimiter({ store, clock, limits, breaker: false, timeoutMs: 5_000 });
}

/**
 * Registers the conformance suite for a store: every semantic of DESIGN.md, property-based against
 * the pure reference algorithms with a manual clock, plus concurrent callers. Any store that
 * passes it can stand behind `createLimiter`.
 *
 * @example
 * describeStoreConformance({ name: "memory", create: (clock) => memoryStore({ clock }) });
 */
export function describeStoreConformance(target: ConformanceTarget): void {
  const scale = target.runsScale ?? 1;
  const runs = (n: number) => Math.max(5, Math.round(n * scale));

  describe(`store conformance: ${target.name}`, () => {
    describe("answers exactly as the reference algorithms (property-based)", () => {
      for (const [group, names] of Object.entries(GROUPS)) {
        it(`${group}: random check/peek/settle/release/reset/time sequences`, async () => {
          const limits = CONFORMANCE_LIMITS.filter((l) => names.includes(l.limit.name));
          const ids = ["a", "b"];
          await fc.assert(
            fc.asyncProperty(startTime, operations(limits.length, ids.length), (start, ops) =>
              sameAsReference(target, limits, ids, start, ops),
            ),
            { numRuns: runs(group === "all algorithms together" ? 500 : 1000) },
          );
        });
      }
      it("hostile identifiers ({, }, :, unicode, NUL, 256 chars) never collide", async () => {
        const limits = CONFORMANCE_LIMITS.filter((l) => ["fw", "tb"].includes(l.limit.name));
        await fc.assert(
          fc.asyncProperty(startTime, operations(limits.length, HOSTILE_IDS.length, 25), (start, ops) =>
            sameAsReference(target, limits, HOSTILE_IDS, start, ops),
          ),
          { numRuns: runs(150) },
        );
      });
    });

    describe("DESIGN.md semantics through the limiter", () => {
      const start = Date.UTC(2026, 4, 12, 10, 0, 0);

      it("1. all or nothing: a denial by one enforced limit charges none of the others", async () => {
        const clock = manualClock(start);
        await withStore(target, clock, async (store) => {
          const limiter = limiterOn(store, clock, [
            { name: "wide", per: "user", algorithm: "fixed-window", limit: 100, window: "1m" },
            { name: "tokens", per: "org", algorithm: "token-bucket", limit: 10, window: "1m", unit: "tokens" },
          ]);
          const subject = { user: "u1", org: "o1" };
          expect((await limiter.check({ subject, cost: 8 })).allowed).toBe(true);
          const denied = await limiter.check({ subject, cost: 5 });
          expect(denied.allowed).toBe(false);
          const peek = await limiter.peek({ subject });
          expect(peek.limits.find((l) => l.name === "wide")?.used).toBe(1);
          expect(peek.limits.find((l) => l.name === "tokens")?.used).toBe(8);
        });
      });

      it("1. concurrent callers: 300 unawaited checks on one key admit exactly the limit", async () => {
        const clock = manualClock(start);
        await withStore(target, clock, async (store) => {
          for (const algorithm of ["fixed-window", "sliding-window", "token-bucket"] as const) {
            const limiter = limiterOn(store, clock, [
              { name: algorithm, per: "user", algorithm, limit: 100, window: "1h" },
            ]);
            const decisions = await Promise.all(
              Array.from({ length: 300 }, () => limiter.check({ subject: { user: `race-${algorithm}` } })),
            );
            expect(decisions.filter((d) => d.allowed).length).toBe(100);
          }
          const quota = limiterOn(store, clock, [
            { name: "q", per: "user", algorithm: "quota", period: "month", limit: 50 },
          ]);
          const quotaDecisions = await Promise.all(
            Array.from({ length: 200 }, () => quota.check({ subject: { user: "race-quota" } })),
          );
          expect(quotaDecisions.filter((d) => d.allowed).length).toBe(50);
          const inFlight = limiterOn(store, clock, [{ name: "cc", per: "user", algorithm: "concurrency", limit: 7 }]);
          const leases = await Promise.all(
            Array.from({ length: 100 }, () => inFlight.check({ subject: { user: "race-cc" } })),
          );
          expect(leases.filter((d) => d.allowed).length).toBe(7);
        });
      });

      it("2. monitor limits never deny, count past the threshold, and cross once per window", async () => {
        const clock = manualClock(start);
        await withStore(target, clock, async (store) => {
          const limiter = limiterOn(store, clock, [
            { name: "llm_call", per: "org", algorithm: "fixed-window", limit: 15, window: "1m", mode: "monitor" },
          ]);
          const crossings: number[] = [];
          for (let i = 1; i <= 40; i++) {
            const decision = await limiter.check({ subject: { org: "acme" } });
            expect(decision.allowed).toBe(true);
            const status = decision.limits[0];
            expect(status?.exceeded).toBe(i > 15);
            if (status?.crossed) crossings.push(i);
          }
          expect(crossings).toEqual([16]);
          clock.advance(60_000);
          for (let i = 1; i <= 16; i++) await limiter.check({ subject: { org: "acme" } });
          const next = await limiter.check({ subject: { org: "acme" } });
          expect(next.limits[0]?.crossed).toBe(false);
          expect(next.limits[0]?.used).toBe(17);
        });
      });

      it("3. cost 0 peeks; a cost above capacity is denied with no retry-after", async () => {
        const clock = manualClock(start);
        await withStore(target, clock, async (store) => {
          const limiter = limiterOn(store, clock, [
            { name: "t", per: "user", algorithm: "token-bucket", limit: 100, window: "1m", burst: 150, unit: "tokens" },
          ]);
          const peek = await limiter.check({ subject: { user: "p" }, cost: 0 });
          expect(peek.allowed).toBe(true);
          expect(peek.receipt).toBeUndefined();
          expect(peek.limits[0]?.remaining).toBe(150);
          const huge = await limiter.check({ subject: { user: "p" }, cost: 151 });
          expect(huge).toMatchObject({ allowed: false, reason: "cost_exceeds_limit" });
          expect(huge.retryAfter).toBeUndefined();
          expect((await limiter.peek({ subject: { user: "p" } })).limits[0]?.remaining).toBe(150);
        });
      });

      it("4. reserve then settle: refund the difference, or charge the excess into debt", async () => {
        const clock = manualClock(start);
        await withStore(target, clock, async (store) => {
          const limiter = limiterOn(store, clock, [
            { name: "day", per: "user", algorithm: "quota", period: "day", limit: 10_000, unit: "tokens" },
            { name: "hour", per: "user", algorithm: "fixed-window", limit: 20, window: "1h" },
          ]);
          const subject = { user: "s" };
          const reserved = await limiter.check({ subject, cost: 2_000 });
          expect((await limiter.settle(reserved, 500)).applied).toBe(true);
          let peek = await limiter.peek({ subject });
          expect(peek.limits.find((l) => l.name === "day")?.used).toBe(500);
          expect(peek.limits.find((l) => l.name === "hour")?.used).toBe(1);
          const second = await limiter.check({ subject, cost: 1_000 });
          await limiter.settle(second, 12_000);
          peek = await limiter.peek({ subject });
          expect(peek.limits.find((l) => l.name === "day")?.used).toBe(12_500);
          const inDebt = await limiter.check({ subject, cost: 1 });
          expect(inDebt).toMatchObject({ allowed: false, reason: "quota_exceeded" });
          await limiter.refund(second);
        });
      });

      it("5. time comes from the store's clock, not the limiter's", async () => {
        const storeClock = manualClock(start);
        await withStore(target, storeClock, async (store) => {
          const spec: LimitSpec[] = [{ name: "m", per: "user", algorithm: "fixed-window", limit: 2, window: "1m" }];
          const ahead = limiterOn(store, manualClock(start + 5_000), spec);
          const behind = limiterOn(store, manualClock(start - 5_000), spec);
          const answers = [];
          for (const limiter of [ahead, behind, ahead, behind])
            answers.push((await limiter.check({ subject: { user: "k" } })).allowed);
          expect(answers).toEqual([true, true, false, false]);
        });
      });

      it("6. retry-after is whole seconds, at least 1, and truthful", async () => {
        const specs: LimitSpec[] = [
          { name: "fw", per: "user", algorithm: "fixed-window", limit: 3, window: "7s" },
          { name: "sw", per: "user", algorithm: "sliding-window", limit: 5, window: "13s" },
          { name: "tb", per: "user", algorithm: "token-bucket", limit: 4, window: "9s", burst: 6 },
          { name: "q", per: "user", algorithm: "quota", period: "day", limit: 3, timeZone: "Europe/Paris" },
          { name: "cc", per: "user", algorithm: "concurrency", limit: 2, window: "4s" },
        ];
        await fc.assert(
          fc.asyncProperty(
            startTime,
            fc.constantFrom(...specs),
            fc.array(fc.integer({ min: 0, max: 3_000 }), { minLength: 1, maxLength: 12 }),
            async (t0, spec, gaps) => {
              const clock = manualClock(t0);
              await withStore(target, clock, async (store) => {
                const limiter = limiterOn(store, clock, [spec]);
                const subject = { user: "r" };
                for (const gap of gaps) {
                  clock.advance(gap);
                  const decision = await limiter.check({ subject });
                  if (decision.allowed) continue;
                  expect(Number.isInteger(decision.retryAfter)).toBe(true);
                  expect(decision.retryAfter).toBeGreaterThanOrEqual(1);
                  clock.advance((decision.retryAfter as number) * 1000);
                  expect((await limiter.check({ subject })).allowed).toBe(true);
                }
              });
            },
          ),
          { numRuns: runs(200) },
        );
      });

      it("7. calendar quotas reset on the 1st of the month in the configured zone", async () => {
        const clock = manualClock(Date.UTC(2024, 1, 29, 22, 59, 0)); // Feb 29, 23:59 in Paris
        await withStore(target, clock, async (store) => {
          const limiter = limiterOn(store, clock, [
            { name: "month", per: "key", algorithm: "quota", period: "month", limit: 1, timeZone: "Europe/Paris" },
          ]);
          expect((await limiter.check({ subject: { key: "k" } })).allowed).toBe(true);
          const denied = await limiter.check({ subject: { key: "k" } });
          expect(denied).toMatchObject({ allowed: false, reason: "quota_exceeded", retryAfter: 60 });
          clock.advance(60_000);
          expect((await limiter.check({ subject: { key: "k" } })).allowed).toBe(true);
        });
      });

      it("concurrency leases are released on completion and expire after their TTL", async () => {
        const clock = manualClock(start);
        await withStore(target, clock, async (store) => {
          const limiter = limiterOn(store, clock, [
            { name: "cc", per: "user", algorithm: "concurrency", limit: 1, window: "30s" },
          ]);
          const first = await limiter.check({ subject: { user: "c" } });
          expect(first.allowed).toBe(true);
          const blocked = await limiter.check({ subject: { user: "c" } });
          expect(blocked).toMatchObject({ allowed: false, retryAfter: 30 });
          await limiter.release(first);
          const second = await limiter.check({ subject: { user: "c" } });
          expect(second.allowed).toBe(true);
          clock.advance(30_001); // the holder "crashed": its lease expires
          expect((await limiter.check({ subject: { user: "c" } })).allowed).toBe(true);
        });
      });

      it("reset forgets a subject's counters and no one else's", async () => {
        const clock = manualClock(start);
        await withStore(target, clock, async (store) => {
          const limiter = limiterOn(store, clock, [
            { name: "m", per: "user", algorithm: "fixed-window", limit: 1, window: "1h" },
          ]);
          await limiter.check({ subject: { user: "x" } });
          await limiter.check({ subject: { user: "y" } });
          await limiter.reset({ user: "x" });
          expect((await limiter.check({ subject: { user: "x" } })).allowed).toBe(true);
          expect((await limiter.check({ subject: { user: "y" } })).allowed).toBe(false);
        });
      });
    });
  });
}
