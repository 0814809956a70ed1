import type { AlgorithmName, LimitMode, LimitUnit, SubjectKind } from "./limit.js";
import type { DecideItem } from "./store.js";

export type DecisionReason =
  | "limit_exceeded"
  | "quota_exceeded"
  | "cost_exceeds_limit"
  | "subject_missing"
  | "invalid_key"
  | "forbidden"
  | "store_unavailable";

/** How one limit saw one request. Times are whole seconds from now. */
export interface LimitStatus {
  name: string;
  /** `kind:id`, e.g. `user:u-42`. */
  subject: string;
  mode: LimitMode;
  algorithm: AlgorithmName;
  unit: LimitUnit;
  /** Capacity: the limit, or the burst of a token bucket. */
  limit: number;
  used: number;
  remaining: number;
  /** Seconds until the counter resets. */
  reset: number;
  /** Window length in seconds (the current calendar period's length for quotas; the lease TTL for concurrency). */
  window: number;
  /** This request is over this limit (a denial for enforced limits, a flag for monitors). */
  exceeded: boolean;
  /** Monitor limits: this request crossed the threshold for the first time in the window (alert once). */
  crossed: boolean;
  /** Seconds until this limit would admit the request; absent when it fits or never can. */
  retryAfter?: number;
  /** Alert sink configured on the limit. */
  alert?: string;
}

/** A limit that applied but whose subject kind the request lacks (a per-user limit, no user). */
export interface MissingSubject {
  /** The limit's name. */
  limit: string;
  /** The subject field it needs (`user`, `key`, `org`, `project`, `ip`). */
  field: Exclude<SubjectKind, "global">;
}

/** What was charged, so it can be settled, refunded or released later. Opaque to callers. */
export interface ChargeReceipt {
  readonly items: readonly DecideItem[];
  /** Store time of the charge. */
  readonly at: number;
  /** The cost charged to token limits. */
  readonly cost: number;
  /** Which store took the charge (the fallback during an outage). */
  readonly store: "primary" | "fallback";
}

/**
 * The answer for one request. A denial is a value, never a throw.
 *
 * @example
 * const d = await limiter.check({ subject: { user: "u-42" } });
 * if (!d.allowed) res.status(429).set("Retry-After", String(d.retryAfter)).end();
 */
export interface Decision {
  allowed: boolean;
  /** Why it was denied, or `store_unavailable` when the store failed (allowed or not per failMode). */
  reason?: DecisionReason;
  /** Whole seconds, at least 1, on a denial that can succeed later. */
  retryAfter?: number;
  /** The store failed and the decision came from failMode or the fallback limiter. */
  degraded?: boolean;
  plan?: string;
  category?: string;
  /** Every limit that applied (monitors included). */
  limits: LimitStatus[];
  /**
   * Reason `subject_missing`: the enforced limits (`whenMissing: deny`) whose subject field the
   * request lacks. Nothing was counted anywhere.
   */
  missing?: MissingSubject[];
  /** Limits passed over because the request lacks their subject field and they say `whenMissing: skip`. */
  skipped?: MissingSubject[];
  /**
   * Present when something was charged: what `settle`, `refund` and `release` need. Serialised
   * (`JSON.stringify`), it shows only its summary, never the limits' configuration.
   */
  receipt?: ChargeReceipt;
}
