import { periodBounds } from "../calendar.js";
import type { ChargeReceipt, Decision, DecisionReason, LimitStatus, MissingSubject } from "../decision.js";
import type { Limit } from "../limit.js";
import type { DecideItem, DecideResult, Outcome } from "../store.js";
import type { Prepared } from "./prepare.js";

/** Adds what every decision says about its request: plan, category, skipped limits. */
export function scoped(
  decision: Decision,
  prepared: { plan: string | undefined; category: string | undefined; skipped: MissingSubject[] | undefined },
): Decision {
  if (prepared.plan !== undefined) decision.plan = prepared.plan;
  if (prepared.category !== undefined) decision.category = prepared.category;
  if (prepared.skipped !== undefined) decision.skipped = prepared.skipped;
  return decision;
}

/**
 * A charge receipt. Its items hold every limit's configuration, which must not travel with
 * `JSON.stringify(decision)` (logs, `res.json(decision)`): serialised, it is only its summary.
 */
class Receipt implements ChargeReceipt {
  constructor(
    readonly items: readonly DecideItem[],
    readonly at: number,
    readonly cost: number,
    readonly store: ChargeReceipt["store"],
  ) {}
  toJSON() {
    return { at: this.at, cost: this.cost, store: this.store, counters: this.items.length };
  }
}

/** Window length in seconds as people read it: the current calendar period for quotas. */
function windowSeconds(limit: Limit, now: number): number {
  if (limit.algorithm !== "quota") return Math.round(limit.windowMs / 1000);
  const { start, end } = periodBounds(now, limit.period ?? "month", limit.timeZone);
  return Math.round((end - start) / 1000);
}

/** Answers without a store call: a subject is missing (nothing is counted), or no limit applied. */
export function withoutStore(prepared: Prepared): Decision | undefined {
  if (prepared.missing !== undefined) {
    return scoped({ allowed: false, reason: "subject_missing", limits: [], missing: prepared.missing }, prepared);
  }
  if (prepared.items.length === 0) return scoped({ allowed: true, limits: [] }, prepared);
  return undefined;
}

/** How one limit saw the request, in the units people read (whole seconds). */
function statusOf(item: DecideItem, outcome: Outcome, now: number): LimitStatus {
  const { limit } = item;
  const status: LimitStatus = {
    name: limit.name,
    subject: `${limit.per}:${item.id}`,
    mode: limit.mode,
    algorithm: limit.algorithm,
    unit: limit.unit,
    limit: limit.capacity,
    used: outcome.used,
    remaining: outcome.remaining,
    reset: Math.max(0, Math.ceil(outcome.resetMs / 1000)),
    window: windowSeconds(limit, now),
    exceeded: outcome.exceeded,
    crossed: outcome.crossed,
  };
  if (limit.alert !== undefined) status.alert = limit.alert;
  if (!outcome.fits && outcome.retryAfterMs !== Number.POSITIVE_INFINITY) {
    status.retryAfter = Math.max(1, Math.ceil(outcome.retryAfterMs / 1000));
  }
  return status;
}

/**
 * The decision a store's answer means: allowed when every enforced limit fits; denied otherwise,
 * with the reason and the wait of the limit that frees last.
 */
export function toDecision(prepared: Prepared, result: DecideResult, source: ChargeReceipt["store"]): Decision {
  const { items } = prepared;
  const limits: LimitStatus[] = new Array(items.length);
  let allowed = true;
  let longestWait = 0;
  let bindingLimit: Limit | undefined;
  let neverFits = false;
  for (let i = 0; i < items.length; i++) {
    const item = items[i] as DecideItem;
    const outcome = result.outcomes[i] as Outcome;
    limits[i] = statusOf(item, outcome, result.now);
    if (!outcome.fits && item.limit.mode === "enforce") {
      allowed = false;
      if (outcome.retryAfterMs === Number.POSITIVE_INFINITY) neverFits = true;
      else if (outcome.retryAfterMs >= longestWait) {
        longestWait = outcome.retryAfterMs;
        bindingLimit = item.limit;
      }
    }
  }
  const decision = scoped({ allowed, limits }, prepared);
  if (!allowed) {
    let reason: DecisionReason = "limit_exceeded";
    if (neverFits) reason = "cost_exceeds_limit";
    else {
      if (bindingLimit?.algorithm === "quota") reason = "quota_exceeded";
      // Every denying limit fits after the longest of their waits: the others only recover meanwhile.
      const retryAfter = Math.max(1, Math.ceil(longestWait / 1000));
      decision.retryAfter = retryAfter;
      // What a client reads is what happens: no denying limit may advertise a reset before the
      // retry-after (a window's end can come before a rolling count has decayed enough).
      for (const status of limits) {
        if (status.exceeded && status.mode === "enforce" && status.reset < retryAfter) status.reset = retryAfter;
      }
    }
    decision.reason = reason;
  }
  if (result.charged) {
    decision.receipt = new Receipt(prepared.items, result.now, prepared.cost, source);
  }
  return decision;
}
