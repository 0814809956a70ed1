import type { Clock, ManualClock } from "../clock.js";
import type { LimitSpec } from "../limit.js";
import { createLimiter, type Limiter, type LimiterOptions } from "../limiter.js";
import type { Store } from "../store.js";

/** A store under test: how to make a fresh, empty one whose time is read from `clock`. */
export interface ConformanceTarget {
  name: string;
  /** A fresh, empty store (isolated from every other: use a unique key prefix) reading time from `clock`. */
  create(clock: Clock): Store | Promise<Store>;
  destroy?(store: Store): void | Promise<void>;
  /** Scales the number of generated scenarios (1 = the default thousand per algorithm). */
  runsScale?: number;
  /**
   * The limiter the semantic checks drive the store with; default `createLimiter`. Mutation checks
   * swap in a deliberately broken one to prove the suite catches it.
   */
  createLimiter?: (options: LimiterOptions) => Limiter;
}

/** One check of the suite, runnable on its own (the mutation checks run them against broken stores). */
export interface ConformanceCheck {
  /**
   * `reference` (property-based, against the pure algorithms), `semantics` (through the limiter) or
   * `restore` (quotas rebuilt from the usage ledger through `seed`).
   */
  section: "reference" | "semantics" | "restore";
  name: string;
  run(): Promise<void>;
}

/** Runs `run` on a fresh store of `target`, destroying the store afterwards. */
export async function withStore<T>(
  target: ConformanceTarget,
  clock: Clock,
  run: (store: Store) => Promise<T>,
): Promise<T> {
  const store = await target.create(clock);
  try {
    return await run(store);
  } finally {
    await target.destroy?.(store);
  }
}

/** The limiter the semantic checks drive `store` with (no breaker, a patient timeout). */
export function limiterOn(
  target: ConformanceTarget,
  store: Store,
  clock: ManualClock,
  limits: LimitSpec[],
  options: Partial<LimiterOptions> = {},
): Limiter {
  const create = target.createLimiter ?? createLimiter;
  return create({ store, clock, limits, breaker: false, timeoutMs: 5_000, ...options });
}
