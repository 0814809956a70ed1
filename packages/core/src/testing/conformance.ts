import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { manualClock } from "../clock.js";
import type { CompiledLimit } from "../config.js";
import type { Decision } from "../decision.js";
import { rateLimitHeaders } from "../headers.js";
import type { LimitSpec } from "../limit.js";
import { restoreChecks } from "./conformance-restore.js";
import { CONFORMANCE_LIMITS, HOSTILE_IDS } from "./fixtures.js";
import { differences, operations, peekAll, play, startTime } from "./operations.js";
import { referenceStore } from "./reference-store.js";
import { type ConformanceCheck, type ConformanceTarget, limiterOn, withStore } from "./target.js";

export type { ConformanceCheck, ConformanceTarget } from "./target.js";

const GROUPS: Record<string, string[]> = {
  "fixed-window": ["fw", "mon"],
  "sliding-window": ["sw", "swm"],
  "sliding-log": ["sl", "slm"],
  "token-bucket": ["tb"],
  quota: ["q", "qm"],
  concurrency: ["cc"],
  "all algorithms together": CONFORMANCE_LIMITS.map((l) => l.limit.name),
};

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

/**
 * Registers the conformance suite for a store: every semantic of docs/semantics.md, property-based against
 * the pure reference algorithms with a manual clock, plus concurrent callers. Any store that
 * passes it can stand behind `createLimiter`.
 *
 * @example
 * describeStoreConformance({ name: "memory", create: (clock) => memoryStore({ clock }) });
 */
export function describeStoreConformance(target: ConformanceTarget): void {
  const checks = conformanceChecks(target);
  describe(`store conformance: ${target.name}`, () => {
    describe("answers exactly as the reference algorithms (property-based)", () => {
      for (const check of checks) if (check.section === "reference") it(check.name, check.run);
    });
    describe("semantics through the limiter", () => {
      for (const check of checks) if (check.section === "semantics") it(check.name, check.run);
    });

    describe("13. quotas rebuilt from the usage ledger (seed if absent)", () => {
      for (const check of checks) if (check.section === "restore") it(check.name, check.run);
    });
  });
}

/**
 * The suite's checks as plain functions: `describeStoreConformance` registers them as tests; the
 * mutation checks run them against deliberately broken stores and expect them to fail.
 */
export function conformanceChecks(target: ConformanceTarget): ConformanceCheck[] {
  const scale = target.runsScale ?? 1;
  const runs = (n: number) => Math.max(5, Math.round(n * scale));
  const checks: ConformanceCheck[] = [];
  const reference = (name: string, run: () => Promise<void>) => void checks.push({ section: "reference", name, run });
  const semantics = (name: string, run: () => Promise<void>) => void checks.push({ section: "semantics", name, run });
  const restore = (name: string, run: () => Promise<void>) => void checks.push({ section: "restore", name, run });

  for (const [group, names] of Object.entries(GROUPS)) {
    reference(`${group}: random check/peek/settle/release/reset/time sequences`, async () => {
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
  reference("hostile identifiers ({, }, :, unicode, NUL, 256 chars) never collide", async () => {
    const limits = CONFORMANCE_LIMITS.filter((l) => ["fw", "tb"].includes(l.limit.name));
    await fc.assert(
      fc.asyncProperty(startTime, operations(limits.length, HOSTILE_IDS.length, 25), (start, ops) =>
        sameAsReference(target, limits, HOSTILE_IDS, start, ops),
      ),
      { numRuns: runs(150) },
    );
  });

  const start = Date.UTC(2026, 4, 12, 10, 0, 0);

  semantics("1. all or nothing: a denial by one enforced limit charges none of the others", async () => {
    const clock = manualClock(start);
    await withStore(target, clock, async (store) => {
      const limiter = limiterOn(target, store, clock, [
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

  semantics("1. concurrent callers: 300 unawaited checks on one key admit exactly the limit", async () => {
    const clock = manualClock(start);
    await withStore(target, clock, async (store) => {
      for (const algorithm of ["fixed-window", "sliding-window", "sliding-log", "token-bucket"] as const) {
        const limiter = limiterOn(target, store, clock, [
          { name: algorithm, per: "user", algorithm, limit: 100, window: "1h" },
        ]);
        const decisions = await Promise.all(
          Array.from({ length: 300 }, () => limiter.check({ subject: { user: `race-${algorithm}` } })),
        );
        expect(decisions.filter((d) => d.allowed).length).toBe(100);
      }
      const quota = limiterOn(target, store, clock, [
        { name: "q", per: "user", algorithm: "quota", period: "month", limit: 50 },
      ]);
      const quotaDecisions = await Promise.all(
        Array.from({ length: 200 }, () => quota.check({ subject: { user: "race-quota" } })),
      );
      expect(quotaDecisions.filter((d) => d.allowed).length).toBe(50);
      const inFlight = limiterOn(target, store, clock, [
        { name: "cc", per: "user", algorithm: "concurrency", limit: 7 },
      ]);
      const leases = await Promise.all(
        Array.from({ length: 100 }, () => inFlight.check({ subject: { user: "race-cc" } })),
      );
      expect(leases.filter((d) => d.allowed).length).toBe(7);
    });
  });

  semantics("2. monitor limits never deny, count past the threshold, and cross once per window", async () => {
    const clock = manualClock(start);
    await withStore(target, clock, async (store) => {
      const limiter = limiterOn(target, store, clock, [
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

  semantics("3. cost 0 peeks; a cost above capacity is denied with no retry-after", async () => {
    const clock = manualClock(start);
    await withStore(target, clock, async (store) => {
      const limiter = limiterOn(target, store, clock, [
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

  semantics("4. reserve then settle: refund the difference, or charge the excess into debt", async () => {
    const clock = manualClock(start);
    await withStore(target, clock, async (store) => {
      const limiter = limiterOn(target, store, clock, [
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

  semantics("5. time comes from the store's clock, not the limiter's", async () => {
    // Half way through a minute of the store's clock, far from real time and from both limiters'
    // clocks: a store that reads any other clock (Date.now, the app's) answers differently below.
    const storeClock = manualClock(start + 30_000);
    await withStore(target, storeClock, async (store) => {
      const spec: LimitSpec[] = [{ name: "m", per: "user", algorithm: "fixed-window", limit: 2, window: "1m" }];
      const ahead = limiterOn(target, store, manualClock(start + 45 * 60_000), spec);
      const behind = limiterOn(target, store, manualClock(start - 45 * 60_000), spec);
      const decisions = [];
      for (const limiter of [ahead, behind, ahead, behind])
        decisions.push(await limiter.check({ subject: { user: "k" } }));
      expect(decisions.map((d) => d.allowed)).toEqual([true, true, false, false]);
      // The window's end is the store's: 30 s away, whatever the limiters' clocks say.
      expect(decisions[2]).toMatchObject({ retryAfter: 30 });
      expect(decisions[2]?.limits[0]?.reset).toBe(30);
      storeClock.advance(29_999);
      expect((await behind.check({ subject: { user: "k" } })).allowed).toBe(false);
      storeClock.advance(1);
      expect((await ahead.check({ subject: { user: "k" } })).allowed).toBe(true);
    });
  });

  semantics("6. retry-after is whole seconds, at least 1, and truthful", async () => {
    const specs: LimitSpec[] = [
      { name: "fw", per: "user", algorithm: "fixed-window", limit: 3, window: "7s" },
      { name: "sw", per: "user", algorithm: "sliding-window", limit: 5, window: "13s" },
      { name: "sl", per: "user", algorithm: "sliding-log", limit: 4, window: "11s" },
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
            const limiter = limiterOn(target, store, clock, [spec]);
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

  semantics("7. calendar quotas reset on the 1st of the month in the configured zone", async () => {
    const clock = manualClock(Date.UTC(2024, 1, 29, 22, 59, 0)); // Feb 29, 23:59 in Paris
    await withStore(target, clock, async (store) => {
      const limiter = limiterOn(target, store, clock, [
        { name: "month", per: "key", algorithm: "quota", period: "month", limit: 1, timeZone: "Europe/Paris" },
      ]);
      expect((await limiter.check({ subject: { key: "k" } })).allowed).toBe(true);
      const denied = await limiter.check({ subject: { key: "k" } });
      expect(denied).toMatchObject({ allowed: false, reason: "quota_exceeded", retryAfter: 60 });
      clock.advance(60_000);
      expect((await limiter.check({ subject: { key: "k" } })).allowed).toBe(true);
    });
  });

  semantics("concurrency leases are released on completion and expire after their TTL", async () => {
    const clock = manualClock(start);
    await withStore(target, clock, async (store) => {
      const limiter = limiterOn(target, store, clock, [
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

  semantics("reset forgets a subject's counters and no one else's", async () => {
    const clock = manualClock(start);
    await withStore(target, clock, async (store) => {
      const limiter = limiterOn(target, store, clock, [
        { name: "m", per: "user", algorithm: "fixed-window", limit: 1, window: "1h" },
      ]);
      await limiter.check({ subject: { user: "x" } });
      await limiter.check({ subject: { user: "y" } });
      await limiter.reset({ user: "x" });
      expect((await limiter.check({ subject: { user: "x" } })).allowed).toBe(true);
      expect((await limiter.check({ subject: { user: "y" } })).allowed).toBe(false);
    });
  });

  semantics("4. a decision is settled or refunded at most once, whichever comes first", async () => {
    const clock = manualClock(start);
    await withStore(target, clock, async (store) => {
      const limiter = limiterOn(target, store, clock, [
        { name: "day", per: "user", algorithm: "quota", period: "day", limit: 10_000, unit: "tokens" },
        { name: "hour", per: "user", algorithm: "sliding-log", limit: 5_000, window: "1h", unit: "tokens" },
      ]);
      const subject = { user: "once" };
      const used = async () => (await limiter.peek({ subject })).limits.map((l) => l.used);
      await limiter.check({ subject, cost: 300 }); // kept: a double refund would eat into it
      const failed = await limiter.check({ subject, cost: 500 });
      expect((await limiter.refund(failed)).applied).toBe(true);
      expect((await limiter.refund(failed)).applied).toBe(false);
      expect((await limiter.settle(failed, 400)).applied).toBe(false);
      expect(await used()).toEqual([300, 300]);
      const served = await limiter.check({ subject, cost: 1_000 });
      expect((await limiter.settle(served, 200)).applied).toBe(true);
      expect((await limiter.refund(served)).applied).toBe(false);
      expect((await limiter.settle(served, 50)).applied).toBe(false);
      expect(await used()).toEqual([500, 500]);
    });
  });

  semantics(
    "11. no silent pass: a limit whose subject is missing denies (or skips, when told) and counts nothing",
    async () => {
      const clock = manualClock(start);
      await withStore(target, clock, async (store) => {
        const limiter = limiterOn(target, store, clock, [
          { name: "per-user", per: "user", algorithm: "sliding-log", limit: 2, window: "1h" },
          { name: "per-ip", per: "ip", algorithm: "fixed-window", limit: 5, window: "1h" },
          { name: "per-org", per: "org", algorithm: "fixed-window", limit: 1, window: "1h", whenMissing: "skip" },
          { name: "watch", per: "project", algorithm: "fixed-window", limit: 1, window: "1h", mode: "monitor" },
        ]);
        const ip = "203.0.113.7";
        for (let i = 0; i < 3; i++) {
          const denied = await limiter.check({ subject: { ip } });
          expect(denied).toMatchObject({
            allowed: false,
            reason: "subject_missing",
            missing: [{ limit: "per-user", field: "user" }],
            skipped: [
              { limit: "per-org", field: "org" },
              { limit: "watch", field: "project" },
            ],
          });
          expect(denied.retryAfter).toBeUndefined();
          expect(denied.receipt).toBeUndefined();
          expect(rateLimitHeaders(denied)["x-should-retry"]).toBe("false");
        }
        const peek = await limiter.peek({ subject: { user: "u", ip } });
        expect(peek.limits.find((l) => l.name === "per-ip")?.used).toBe(0);
        const answers = [];
        for (let i = 0; i < 3; i++) answers.push((await limiter.check({ subject: { user: "u", ip } })).allowed);
        expect(answers).toEqual([true, true, false]);
      });
    },
  );

  semantics("12. on a denial every reset a client reads is at least retry-after, and waiting it succeeds", async () => {
    const specs: LimitSpec[] = [
      { name: "fw", per: "user", algorithm: "fixed-window", limit: 3, window: "7s" },
      { name: "sw", per: "user", algorithm: "sliding-window", limit: 4, window: "10s" },
      { name: "sl", per: "user", algorithm: "sliding-log", limit: 5, window: "13s", unit: "tokens" },
      { name: "tb", per: "user", algorithm: "token-bucket", limit: 4, window: "9s", burst: 6, unit: "tokens" },
      { name: "q", per: "user", algorithm: "quota", period: "day", limit: 3 },
      { name: "cc", per: "user", algorithm: "concurrency", limit: 2, window: "4s" },
    ];
    const requests = fc.array(
      fc.record({ gap: fc.integer({ min: 0, max: 4_000 }), cost: fc.integer({ min: 1, max: 4 }) }),
      { minLength: 1, maxLength: 14 },
    );
    await fc.assert(
      fc.asyncProperty(
        startTime,
        fc.subarray(specs, { minLength: 1, maxLength: 3 }),
        requests,
        async (t0, chosen, arrivals) => {
          const clock = manualClock(t0);
          await withStore(target, clock, async (store) => {
            const limiter = limiterOn(target, store, clock, chosen);
            const subject = { user: "r" };
            for (const { gap, cost } of arrivals) {
              clock.advance(gap);
              const decision = await limiter.check({ subject, cost });
              if (decision.allowed || decision.retryAfter === undefined) continue;
              const wait = decision.retryAfter;
              const readable = resetsReadable(decision, clock.now());
              for (const [where, seconds] of readable) {
                expect(seconds, `${where} >= Retry-After ${wait}`).toBeGreaterThanOrEqual(wait);
              }
              // Wait what the denying limits advertise (never less than Retry-After), then retry.
              const advertised = Math.max(wait, ...readable.map(([, seconds]) => seconds));
              clock.advance(advertised * 1000);
              expect((await limiter.check({ subject, cost })).allowed, `after waiting ${advertised} s`).toBe(true);
            }
          });
        },
      ),
      { numRuns: runs(300) },
    );
  });

  semantics("sliding-log: exact rolling window against a brute-force count (weighted costs)", async () => {
    const arrivals = fc.array(
      fc.record({
        gap: fc.oneof(
          fc.integer({ min: 0, max: 3_000 }),
          fc.double({ min: 0, max: 50, noNaN: true }).map((ms) => Math.round(ms * 1000) / 1000),
        ),
        cost: fc.integer({ min: 1, max: 6 }),
      }),
      { minLength: 1, maxLength: 60 },
    );
    await fc.assert(
      fc.asyncProperty(
        startTime,
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1_000, max: 20_000 }),
        arrivals,
        async (t0, limit, windowMs, sequence) => {
          const clock = manualClock(t0);
          await withStore(target, clock, async (store) => {
            const limiter = limiterOn(target, store, clock, [
              { name: "exact", per: "user", algorithm: "sliding-log", limit, window: windowMs, unit: "tokens" },
            ]);
            const admitted: { at: number; cost: number }[] = [];
            const usedAt = (now: number) =>
              admitted.filter((a) => a.at + windowMs > now).reduce((sum, a) => sum + a.cost, 0);
            for (const { gap, cost } of sequence) {
              clock.advance(gap);
              const now = clock.now();
              const decision = await limiter.check({ subject: { user: "x" }, cost });
              const fits = usedAt(now) + cost <= limit;
              expect(decision.allowed, `at +${now - t0} ms, cost ${cost}`).toBe(fits);
              if (decision.allowed) {
                admitted.push({ at: now, cost });
                expect(usedAt(now)).toBeLessThanOrEqual(limit); // never an over-admission
              } else if (cost <= limit) {
                // The exact wait: when enough of the oldest admitted charges have left the window.
                let freed = usedAt(now);
                let waitMs = 0;
                for (const a of admitted.filter((x) => x.at + windowMs > now)) {
                  freed -= a.cost;
                  waitMs = a.at + windowMs - now;
                  if (freed + cost <= limit) break;
                }
                expect(decision.retryAfter).toBe(Math.max(1, Math.ceil(waitMs / 1000)));
              } else {
                expect(decision.reason).toBe("cost_exceeds_limit");
              }
            }
          });
        },
      ),
      { numRuns: runs(2_000) },
    );
  });

  semantics(
    "claimOnce (when the store has it): one winner among concurrent claims of a key, keys independent",
    async () => {
      await withStore(target, manualClock(Date.UTC(2026, 0, 1)), async (store) => {
        if (store.claimOnce === undefined) return;
        const claim = (key: string) => Promise.resolve(store.claimOnce?.(key, 60_000));
        const first = await Promise.all(Array.from({ length: 20 }, () => claim("alert|org:a|w1")));
        expect(first.filter((won) => won === true)).toHaveLength(1);
        expect(await claim("alert|org:a|w1")).toBe(false);
        expect(await claim("alert|org:b|w1")).toBe(true);
        expect(await claim("alert|org:a|w2")).toBe(true);
      });
    },
  );

  restoreChecks(target, restore);

  return checks;
}

/** `1h2m3s` (OpenAI's reset format) in seconds. */
function openAiSeconds(text: string): number {
  const match = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(text);
  if (!match) throw new Error(`not an OpenAI duration: ${text}`);
  return Number(match[1] ?? 0) * 3600 + Number(match[2] ?? 0) * 60 + Number(match[3] ?? 0);
}

/**
 * Every reset a client can read on a denial: each denying limit's `reset` (the body) and `t` (the
 * RateLimit field), the OpenAI-style `x-ratelimit-reset-*` and the legacy epoch reset.
 */
function resetsReadable(decision: Decision, now: number): [string, number][] {
  const found: [string, number][] = [];
  const denying = decision.limits.filter((l) => l.exceeded && l.mode === "enforce");
  for (const status of denying) found.push([`limits.${status.name}.reset`, status.reset]);
  const headers = rateLimitHeaders(decision, { legacy: true, openai: true, now: () => now });
  for (const item of (headers.RateLimit ?? "").split(", ")) {
    const match = /^"([^"]*)";r=\d+;t=(\d+)$/.exec(item);
    if (match && denying.some((l) => l.name === match[1])) found.push([`RateLimit ${match[1]} t`, Number(match[2])]);
  }
  for (const unit of ["requests", "tokens"]) {
    const value = headers[`x-ratelimit-reset-${unit}`];
    if (value !== undefined) found.push([`x-ratelimit-reset-${unit}`, openAiSeconds(value)]);
  }
  const legacy = headers["X-RateLimit-Reset"];
  if (legacy !== undefined) found.push(["X-RateLimit-Reset", Number(legacy) - Math.ceil(now / 1000)]);
  return found;
}
