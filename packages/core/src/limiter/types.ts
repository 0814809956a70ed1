import type { Clock } from "../clock.js";
import type { CompiledConfig, LimitsConfig } from "../config.js";
import type { Decision, MissingSubject } from "../decision.js";
import type { BreakerOptions, BreakerState } from "../resilience.js";
import type { Store } from "../store.js";
import type { HealthEvent, HealthListener, StoreHealth } from "../store-guard.js";
import type { Subject } from "../subject.js";
import type { UsageObserver } from "../usage.js";

/** One request to decide. */
export interface CheckInput {
  subject: Subject;
  /** Endpoint class (`llm_call`): adds that category's limits and filters limits by `categories`. */
  category?: string;
  /** Plan name; default from `planFor` (signed-in / anonymous when those plans exist). */
  plan?: string;
  /**
   * Units for `unit: tokens` limits (default 1). `unit: requests` limits count the request once.
   * 0 peeks: nothing is charged anywhere.
   */
  cost?: number;
  /** Micro-dollars (1 USD = 1,000,000) for `unit: usd` limits (default 0: they are only checked). */
  microUsd?: number;
  /** The caller brings its own provider key: token, money and `byokExempt` limits are skipped. */
  byok?: boolean;
  /** Evaluate without charging. */
  dryRun?: boolean;
}

export interface LimiterHooks {
  /** Every decision (metrics, alerts on `crossed`, audit). Must not throw. */
  onDecision?(decision: Decision, input: CheckInput): void;
  /**
   * A store call failed or timed out (the decision was degraded), or a compensation failed
   * (`compensate`). Called per failed call: count it, do not log it (see `onHealthChange`). Must not throw.
   */
  onStoreError?(error: unknown, operation: string): void;
  /** A node's circuit breaker changed state. Must not throw. */
  onBreakerChange?(state: BreakerState, partition: string): void;
  /** A store node went degraded or recovered: one call per change, for logs and alerts. */
  onHealthChange?(event: HealthEvent): void;
  /**
   * A store call the limiter gave up on answered later and had charged: its charge was taken
   * back (`applied`) or could not be (`applied: false`, the counters keep it until their window ends).
   */
  onCompensation?(outcome: { applied: boolean; counters: number }): void;
  /**
   * A limit applied but the subject lacks its kind: `deny` (the decision is `subject_missing`) or
   * `skip` (`whenMissing: skip`). Count these: a skip is a limit that did not protect anything.
   * Must not throw.
   */
  onSubjectMissing?(missing: MissingSubject, action: "deny" | "skip", input: CheckInput): void;
}

export interface LimiterOptions extends LimitsConfig {
  store: Store;
  /** Time for the breaker and the calendar lengths reported; stores keep their own clock. */
  clock?: Clock;
  /**
   * Time the store has to answer, in ms; slower calls degrade the decision. Time during which
   * this process itself was stalled is not counted against the store. Default 100 ms.
   */
  timeoutMs?: number;
  /** Circuit breaker per store node; `false` disables it (every call then waits out its timeout). */
  breaker?: BreakerOptions | false;
  /**
   * Store that decides `failMode: "local"` limits while the primary store is unavailable.
   * Default: an in-process memory store, created at the first outage.
   */
  fallback?: Store;
  /**
   * Share (0-1] of each limit the fallback enforces in this process: with N instances behind a
   * load balancer, 1/N keeps an outage's admissions near the limit. Default 1 (each process
   * enforces the whole limit: at most N x limit during an outage).
   */
  fallbackShare?: number;
  /** Plan for a subject when the request names none. Default: `signed-in` for a user, `anonymous` otherwise, when those plans exist. */
  planFor?: (subject: Subject) => string | undefined;
  hooks?: LimiterHooks;
  /**
   * Receives every charge, settle and refund (the usage ledger of `@tollgate/db`). When it can
   * also read usage back (`usedBetween`) and the store can `seed`, a quota counter the store lost
   * is rebuilt from it before that subject's next decision in the period (`check`, `peek`; not
   * `checkSync`, which cannot wait for SQL). Default: records nothing.
   */
  usage?: UsageObserver;
  /** Longest wait for the ledger when rebuilding a quota (then it restarts from what the store has; the decision is `degraded`). Default 2000 ms. */
  restoreTimeoutMs?: number;
}

/** Settling or refunding never throws: it answers whether the store took it. */
export type AdjustOutcome = { applied: true } | { applied: false; error: unknown };

/**
 * Decides requests against limits, atomically, on any Store.
 *
 * @example
 * const limiter = createLimiter({
 *   store: memoryStore(),
 *   limits: [{ name: "llm-hour", per: "user", algorithm: "sliding-window", limit: 20, window: "1h" }],
 * });
 * const decision = await limiter.check({ subject: { user: "u-42" } });
 */
export interface Limiter {
  /** Decides and, when allowed, charges every applicable limit (all or nothing). */
  check(input: CheckInput): Promise<Decision>;
  /**
   * `check` without a promise, for synchronous stores (memory): no microtask per decision.
   * Throws a TollgateError when the store is asynchronous (Redis): use `check` there.
   */
  checkSync(input: CheckInput): Decision;
  /** Reads the caller's counters without charging (usage endpoints). */
  peek(input: Omit<CheckInput, "cost" | "dryRun">): Promise<Decision>;
  /**
   * Replaces the estimated token cost of an allowed decision with the actual one (refund or extra
   * charge into debt). A decision is settled or refunded at most once, whichever comes first: a
   * second call changes nothing and answers `applied: false`.
   */
  settle(decision: Decision, actualCost: number, actualMicroUsd?: number): Promise<AdjustOutcome>;
  /**
   * Gives back everything an allowed decision charged (the upstream call failed) and releases its
   * leases. At most once per decision, and not after `settle`: a repeat answers `applied: false`.
   */
  refund(decision: Decision): Promise<AdjustOutcome>;
  /**
   * `check` under the name concurrency code reads best with: takes a lease on every concurrency
   * limit (and charges the others); pair it with `release` when the work is done.
   *
   * @example
   * const lease = await limiter.acquire({ subject: { user: "u-42" } });
   * if (lease.allowed) try { await work() } finally { await limiter.release(lease) }
   */
  acquire(input: CheckInput): Promise<Decision>;
  /** Releases the concurrency leases a decision took. */
  release(decision: Decision): Promise<AdjustOutcome>;
  /** Deletes every counter of a subject (all plans and categories), or only those of the named limit. */
  reset(subject: Subject, options?: { limit?: string }): Promise<void>;
  /** Replaces the limits, plans and categories; throws ConfigError and keeps the old ones if invalid. */
  update(config: LimitsConfig): void;
  /** The compiled configuration in force. */
  readonly config: CompiledConfig;
  /** The worst breaker state over the store's nodes. */
  readonly breakerState: BreakerState;
  /** Each store node's breaker state; `degraded` while any is not closed. */
  health(): StoreHealth;
  /** Subscribes to `store_degraded` / `store_recovered` events; returns the unsubscribe function. */
  onHealthChange(listener: HealthListener): () => void;
  readonly store: Store;
}
