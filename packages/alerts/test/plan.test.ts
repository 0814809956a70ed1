import { type LimitStatus, parseLimit } from "@tollgate/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Candidate, candidates, mayRaise, planOf } from "../src/rules.js";

const MONTH_START = Date.UTC(2026, 2, 1);

describe("the per-decision check (mayRaise) against the rules (candidates)", () => {
  it("property: whenever the rules raise an event, the cheap check lets the decision through", () => {
    fc.assert(
      fc.property(
        fc.record({
          algorithm: fc.constantFrom("fixed-window", "sliding-window", "token-bucket", "quota"),
          mode: fc.constantFrom("enforce", "monitor"),
          limit: fc.integer({ min: 1, max: 200 }),
          alertAt: fc.option(
            fc.uniqueArray(fc.double({ min: 0.01, max: 1, noNaN: true }), { minLength: 1, maxLength: 4 }),
            {
              nil: undefined,
            },
          ),
        }),
        fc.integer({ min: 0, max: 400 }),
        fc.integer({ min: 0, max: 50 }),
        fc.boolean(),
        fc.integer({ min: 0, max: 31 * 86_400_000 }),
        (spec, used, cost, crossed, offset) => {
          const limit = parseLimit({
            name: "l",
            per: "user",
            algorithm: spec.algorithm,
            limit: spec.limit,
            mode: spec.mode,
            alert: "ops",
            ...(spec.algorithm === "quota" ? { period: "month" } : { window: "1m" }),
            ...(spec.algorithm === "token-bucket" ? { burst: spec.limit * 2 } : {}),
            ...(spec.alertAt ? { alertAt: spec.alertAt } : {}),
          });
          const status = { used, limit: limit.capacity, crossed, subject: "user:u", alert: "ops" } as LimitStatus;
          const at = MONTH_START + offset;
          const found: Candidate[] = [];
          candidates(limit, status, cost, at, { minElapsed: 0.1 }, found);
          const plan = planOf(limit);
          if (found.length > 0) expect(mayRaise(plan, status, cost, at, 0.1, limit)).toBe(true);
          // The shortcut for plain monitors: only the crossing decision raises anything.
          if (plan.onlyCrossing) expect(found.length > 0).toBe(crossed);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it("edge: a monitor over its threshold, not crossing now, costs no rule evaluation", () => {
    const limit = parseLimit({
      name: "m",
      per: "org",
      algorithm: "fixed-window",
      limit: 15,
      window: "1m",
      mode: "monitor",
      alert: "ops",
    });
    const status = { used: 40, limit: 15, crossed: false } as LimitStatus;
    expect(mayRaise(planOf(limit), status, 1, MONTH_START, 0.1, limit)).toBe(false);
    expect(mayRaise(planOf(limit), { ...status, crossed: true }, 1, MONTH_START, 0.1, limit)).toBe(true);
  });
});
