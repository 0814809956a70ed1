import type { CounterState } from "./algorithms/index.js";
import type { Limit } from "./limit.js";

/**
 * One counter: a limit applied to one subject. `counter` identifies the limit (origin, name,
 * subject kind, algorithm, window) and `id` the subject within that kind. Stores derive their
 * keys from both; the subject label shown to people is `${limit.per}:${id}`.
 */
export interface CounterRef {
  counter: string;
  id: string;
  limit: Limit;
}

export interface DecideItem extends CounterRef {
  /** Units to charge (0 peeks). */
  cost: number;
  /** Concurrency limits: the lease this request takes. */
  leaseId?: string;
}

export interface DecideRequest {
  items: readonly DecideItem[];
  /** false evaluates without changing anything (peek, dry run). */
  charge: boolean;
  /**
   * Quota counters are restored from the usage ledger: when any quota item has no live state
   * for the current period, change nothing and answer `missing` (the limiter then seeds them
   * with {@link Store.seed} and decides again).
   */
  restore?: boolean;
}

/** What one counter said about one request. */
export interface Outcome {
  /** The cost fits this counter now. */
  fits: boolean;
  /** This request is over the counter's limit (a denial for enforced limits; a flag for monitors). */
  exceeded: boolean;
  /** Monitor limits: this charge took the counter over its limit for the first time in the window. */
  crossed: boolean;
  used: number;
  remaining: number;
  resetMs: number;
  /** 0 when it fits; Infinity when the cost can never fit. */
  retryAfterMs: number;
}

export interface DecideResult {
  /** The store's clock at the decision (Redis TIME for Redis), in ms. */
  now: number;
  /** True when every counter was charged; false when nothing changed. */
  charged: boolean;
  outcomes: Outcome[];
  /** With `restore`: a quota counter was absent, nothing was evaluated or changed, `outcomes` is empty. */
  missing?: boolean;
}

/** A quota counter to rebuild: its usage so far in the calendar period starting at `start`. */
export interface SeedItem extends CounterRef {
  /** Start of the period the usage was read for; a store whose clock is in another period skips the item. */
  start: number;
  /** Units used in that period (from the usage ledger). */
  count: number;
}

export interface AdjustItem extends CounterRef {
  /** Units to add (positive: charge the excess, possibly into debt) or remove (negative: refund). */
  delta: number;
  /** Store time of the original charge: a refund only applies to the window it was charged in. */
  chargedAt: number;
}

export interface ReleaseItem extends CounterRef {
  leaseId: string;
}

/**
 * The contract every counter store keeps. `decide` is atomic: it evaluates every item against the
 * store's own clock and, when `charge` is set and every enforced item fits, charges all of them;
 * otherwise it changes nothing. Methods may answer synchronously (memory) or with a promise.
 * The conformance suite in `@tollgate/core/testing` holds every store to the reference algorithms.
 */
export interface Store {
  readonly name: string;
  /** True when every method answers synchronously (memory): enables `limiter.checkSync`. */
  readonly synchronous?: boolean;
  decide(request: DecideRequest): DecideResult | Promise<DecideResult>;
  adjust(items: readonly AdjustItem[]): void | Promise<void>;
  release(items: readonly ReleaseItem[]): void | Promise<void>;
  reset(items: readonly CounterRef[]): void | Promise<void>;
  /**
   * Claims `key` for `ttlMs` if nobody holds it: true for the one caller (on any instance sharing
   * the store) that got it, false for everyone else until it expires. Alerts use it to fire once
   * per rule, subject and window everywhere. Optional: without it, claims are per process.
   */
  claimOnce?(key: string, ttlMs: number): boolean | Promise<boolean>;
  /**
   * Seed if absent: each quota counter with no live state for the current period is set to
   * `count`; a counter that exists (another caller seeded or charged it first) is left alone.
   * Atomic per counter, so concurrent first requests after a restart or a flush seed it once.
   * Stores without it cannot be restored from the ledger (the limiter then never asks `restore`).
   */
  seed?(items: readonly SeedItem[]): void | Promise<void>;
  /**
   * Resolves when the store is reachable (readiness checks, and the breaker's recovery probe).
   * `partition` names one node, as returned by `partitionsOf`; absent: the whole store.
   */
  ping?(partition?: string): Promise<void>;
  /**
   * The nodes a request's counters live on (`host:port` of each Redis Cluster master holding
   * their slots). The limiter keeps a circuit breaker per node, so a dead node degrades only
   * the subjects it holds. Absent: the store is one node.
   */
  partitionsOf?(refs: readonly CounterRef[]): readonly string[];
  /**
   * When (`performance.now()` ms) the node last sent us anything (a reply to any request), or
   * -Infinity. A node that keeps replying is alive and working through our queue, so a call
   * waiting behind others (or on its own second round trip) is not failed while progress goes
   * on; a silent node still times out. `partition` as returned by `partitionsOf`, or the store's
   * name for a single-node store. Optional: without it, only whole store calls count as progress.
   */
  lastReplyAt?(partition: string): number;
  close?(): Promise<void>;
}

export type { CounterState };
