import { type Limit, type LimitStatus, periodBounds } from "@tollgate/core";
import type { AlertEventType, Severity } from "./types.js";

/** near_limit ratios of an enforced limit that lists none. Monitors raise threshold_crossed instead. */
export const DEFAULT_ALERT_AT: readonly number[] = Object.freeze([0.8, 1.0]);

/** The window or calendar period a counter's usage belongs to at `at` (store time). */
export function windowOf(limit: Limit, at: number): { start: number; end: number } {
  if (limit.algorithm === "quota") return periodBounds(at, limit.period ?? "month", limit.timeZone);
  // Rolling windows are bucketed on the epoch: "once per window" means once per aligned window
  // (exactly the fixed window's own; for sliding windows and buckets, the window `at` falls in).
  const start = Math.floor(at / limit.windowMs) * limit.windowMs;
  return { start, end: start + limit.windowMs };
}

/** One event a decision raised for one limit, before deduplication. */
export interface Candidate {
  type: AlertEventType;
  severity: Severity;
  ratio?: number;
  projected?: number;
}

export interface RuleOptions {
  /** projected_to_exceed waits until this fraction of the period has passed (early rates mislead). */
  minElapsed: number;
}

/**
 * The events one charged counter raises, from its status after the charge and the charge itself.
 * Pure and cheap: it runs for every alerted limit of every decision. A ratio fires on the charge
 * that reaches it (usage before the charge below it, after at or above), so only that request
 * goes on to claim the event; the claim makes it once everywhere.
 */
export function candidates(
  limit: Limit,
  status: LimitStatus,
  cost: number,
  at: number,
  options: RuleOptions,
  out: Candidate[],
): void {
  if (limit.mode === "monitor" && status.crossed) {
    out.push({ type: "threshold_crossed", severity: "warning" });
  }
  if (limit.algorithm === "concurrency" || cost <= 0) return;
  const ratios = limit.alertAt ?? (limit.mode === "enforce" ? DEFAULT_ALERT_AT : undefined);
  if (ratios !== undefined) {
    const before = status.used - cost;
    for (const ratio of ratios) {
      const mark = Math.max(1, Math.ceil(ratio * status.limit - 1e-9));
      if (status.used >= mark && before < mark) {
        out.push({ type: "near_limit", severity: ratio >= 1 ? "warning" : "info", ratio });
      }
    }
  }
  if (limit.algorithm === "quota" && status.used <= status.limit) {
    const { start, end } = windowOf(limit, at);
    const elapsed = at - start;
    if (elapsed >= options.minElapsed * (end - start) && elapsed > 0) {
      const projected = Math.ceil((status.used * (end - start)) / elapsed);
      if (projected > status.limit) out.push({ type: "projected_to_exceed", severity: "warning", projected });
    }
  }
}

/** What a limit can raise, worked out once per limit: limits do not change once built. */
export interface LimitPlan {
  readonly monitor: boolean;
  /** A monitor with no ratios and no projection (case 2's): only the crossing decision raises. */
  readonly onlyCrossing: boolean;
  /** Usage levels whose reaching raises a near_limit (one per `alertAt` ratio). */
  readonly marks: readonly number[];
  /** Calendar quotas project their usage: the period in force, refreshed when it ends. */
  readonly quota: boolean;
  period: { start: number; end: number };
}

const plans = new WeakMap<Limit, LimitPlan>();
/** The last limit asked about: traffic mostly repeats the same few limits, and this skips the map. */
let lastLimit: Limit | undefined;
let lastPlan: LimitPlan | undefined;

export function planOf(limit: Limit): LimitPlan {
  if (limit === lastLimit) return lastPlan as LimitPlan;
  let plan = plans.get(limit);
  if (plan === undefined) {
    const ratios = limit.alertAt ?? (limit.mode === "enforce" ? DEFAULT_ALERT_AT : undefined);
    const counts = limit.algorithm !== "concurrency" && ratios !== undefined;
    const marks = counts ? ratios.map((ratio) => Math.max(1, Math.ceil(ratio * limit.capacity - 1e-9))) : [];
    const quota = limit.algorithm === "quota";
    plan = {
      monitor: limit.mode === "monitor",
      onlyCrossing: limit.mode === "monitor" && marks.length === 0 && !quota,
      marks,
      quota,
      period: { start: 0, end: 0 },
    };
    plans.set(limit, plan);
  }
  lastLimit = limit;
  lastPlan = plan;
  return plan;
}

/**
 * Whether `candidates` could find anything for this charge: a few comparisons, run on every
 * alerted limit of every decision so that the (rarer) ones that raise nothing cost next to nothing.
 * Never false where `candidates` would find an event (the rules tests compare the two).
 */
export function mayRaise(
  plan: LimitPlan,
  status: LimitStatus,
  cost: number,
  at: number,
  minElapsed: number,
  limit: Limit,
): boolean {
  if (plan.monitor && status.crossed) return true;
  if (cost <= 0) return false;
  const used = status.used;
  const before = used - cost;
  for (const mark of plan.marks) if (used >= mark && before < mark) return true;
  if (!plan.quota || used > status.limit) return false;
  let period = plan.period;
  if (at >= period.end || at < period.start) {
    period = windowOf(limit, at);
    plan.period = period;
  }
  const length = period.end - period.start;
  const elapsed = at - period.start;
  return elapsed > 0 && elapsed >= minElapsed * length && used * length > Math.floor(status.limit) * elapsed;
}
