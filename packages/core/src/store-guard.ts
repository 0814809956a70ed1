import { AbandonedAdjustments } from "./abandoned-adjustments.js";
import { periodBounds } from "./calendar.js";
import type { Clock } from "./clock.js";
import { StoreUnavailableError } from "./errors.js";
import type { Limit } from "./limit.js";
import {
  type BreakerOptions,
  type BreakerState,
  CircuitBreaker,
  StoreTimeoutError,
  withDeadline,
} from "./resilience.js";
import type { AdjustItem, CounterRef, Store } from "./store.js";

/**
 * A store node changed health: `store_degraded` when its breaker opens (decisions touching it go
 * to failMode or the fallback), `store_recovered` when it closes again. One event per change,
 * never one per decision: alerting and logging subscribe here.
 */
export interface HealthEvent {
  type: "store_degraded" | "store_recovered";
  /** The store's name (`redis`). */
  store: string;
  /** The node: `host:port` of a Redis node or cluster master, or the store's name for a single-node store. */
  partition: string;
  /** Clock time of the change, ms. */
  at: number;
  /** store_degraded: the last failure's message (never a stack). */
  error?: string;
  /** store_recovered: how long the node was degraded, ms. */
  durationMs?: number;
  /** store_recovered: store calls failed or skipped on this node while it was degraded. */
  failedCalls?: number;
}

export interface PartitionHealth {
  partition: string;
  state: BreakerState;
  /** Clock time of the last change of state (0: never changed). */
  since: number;
  /** Store calls failed or skipped on this node since it last went degraded (or since start). */
  failedCalls: number;
}

/** The health of a limiter's store: `degraded` while any node's breaker is not closed. */
export interface StoreHealth {
  store: string;
  /** The worst state over the nodes. */
  state: BreakerState;
  degraded: boolean;
  partitions: PartitionHealth[];
}

export type HealthListener = (event: HealthEvent) => void;

interface Partition {
  name: string;
  breaker: CircuitBreaker;
  since: number;
  failedCalls: number;
  lastError: string;
  /** Monotonic time of the last call this node answered. */
  lastAnswer: number;
  probe?: ReturnType<typeof setTimeout>;
}

export interface StoreGuardOptions {
  timeoutMs: number;
  breaker: BreakerOptions | false;
  onBreakerChange?: (state: BreakerState, partition: string) => void;
  /** An abandoned adjustment that completed late was undone (`applied`), or could not be. */
  onCompensation?: (outcome: { applied: boolean; counters: number }) => void;
  /** A compensation's store call failed (after its retry). */
  onStoreError?: (error: unknown, operation: string) => void;
}

/** Pause before the one retry of a compensation: the store just answered, so it is usually a blip. */
const COMPENSATION_RETRY_MS = 1_000;

const WORST: Record<BreakerState, number> = { closed: 0, "half-open": 1, open: 2 };

/**
 * Could a refund charged at `chargedAt` still have taken units back at `now`? A refund of a window
 * that has ended changes nothing, so undoing it (a charge, which lands in the current window)
 * would count units nobody used.
 */
function refundStillCounts(limit: Limit, chargedAt: number, now: number): boolean {
  const w = limit.windowMs;
  switch (limit.algorithm) {
    case "fixed-window":
      return Math.floor(chargedAt / w) === Math.floor(now / w);
    case "quota": {
      const period = limit.period ?? "month";
      return periodBounds(chargedAt, period, limit.timeZone).start === periodBounds(now, period, limit.timeZone).start;
    }
    case "sliding-window":
      return Math.floor(chargedAt / w) >= Math.floor(now / w) - 1;
    case "sliding-log":
      return now - chargedAt < w;
    default:
      return true;
  }
}

/** Keeps a store's error message short and free of stacks. */
function messageOf(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.length > 300 ? `${text.slice(0, 300)}...` : text;
}

/**
 * Calls a store through a deadline and a circuit breaker per node. A store spread over nodes
 * (Redis Cluster) names the nodes a request touches with `partitionsOf`, so one dead master
 * opens only its own breaker and the subjects on the others stay exact. An open breaker is
 * probed with `store.ping(partition)` after its cool-down, so recovery needs no traffic.
 */
export class StoreGuard {
  private readonly partitions = new Map<string, Partition>();
  private readonly listeners = new Set<HealthListener>();
  private readonly single: readonly string[];
  private readonly abandoned = new AbandonedAdjustments((items) => this.undoAdjustment(items));

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly options: StoreGuardOptions,
  ) {
    this.single = Object.freeze([store.name]);
  }

  subscribe(listener: HealthListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  health(): StoreHealth {
    const partitions = [...this.partitions.values()].map((p) => ({
      partition: p.name,
      state: p.breaker.state,
      since: p.since,
      failedCalls: p.failedCalls,
    }));
    let state: BreakerState = "closed";
    for (const p of partitions) if (WORST[p.state] > WORST[state]) state = p.state;
    return { store: this.store.name, state, degraded: state !== "closed", partitions };
  }

  /**
   * Calls `call` on the store with the deadline; the breakers of the nodes `refs` live on weigh the
   * outcome. Throws (or rejects) StoreUnavailableError when a node's breaker is open.
   */
  call<T, A>(
    operation: string,
    call: (argument: A) => T | Promise<T>,
    argument: A,
    refs: readonly CounterRef[],
    onLateResult?: (value: T) => void,
  ): T | Promise<T> {
    return this.guarded(operation, call, argument, refs, onLateResult);
  }

  private guarded<T, A>(
    operation: string,
    call: (argument: A) => T | Promise<T>,
    argument: A,
    refs: readonly CounterRef[],
    onLateResult?: (value: T) => void,
    onAbandoned?: (call: Promise<T>) => void,
  ): T | Promise<T> {
    const store = this.store;
    const names = this.options.breaker === false ? this.single : (store.partitionsOf?.(refs) ?? this.single);
    const parts = this.options.breaker === false ? undefined : this.take(names);
    let value: T | Promise<T>;
    try {
      const raw = call.call(store, argument);
      value = withDeadline(raw, {
        timeoutMs: this.options.timeoutMs,
        what: `store "${store.name}" ${operation}`,
        ...(onLateResult ? { onLateResult: onLateResult as (value: unknown) => void } : {}),
        lastProgress: () => this.lastProgress(names),
      });
      if (onAbandoned !== undefined && raw instanceof Promise && value instanceof Promise) {
        value = value.catch((error: unknown) => {
          if (error instanceof StoreTimeoutError) onAbandoned(raw);
          throw error;
        });
      }
    } catch (error) {
      if (parts) this.failed(parts, error);
      throw error;
    }
    if (parts === undefined) return value;
    if (!(value instanceof Promise)) {
      this.succeeded(parts);
      return value;
    }
    return value.then(
      (result) => {
        this.succeeded(parts);
        return result;
      },
      (error: unknown) => {
        this.failed(parts, error);
        throw error;
      },
    );
  }

  /**
   * An adjustment (settle, refund) with exactly-once effect across a timeout: the caller is told
   * "not applied" when the deadline gives up, so the abandoned call must either count for the
   * caller's retry or be undone (see AbandonedAdjustments).
   */
  adjust(operation: string, items: readonly AdjustItem[], refs: readonly CounterRef[]): void | Promise<void> {
    const send = () =>
      this.guarded(operation, this.store.adjust, items, refs, undefined, (raw) => this.abandoned.abandoned(items, raw));
    const twin = this.abandoned.join(items);
    if (twin === undefined) return send();
    // A retry of an abandoned call still in flight: wait for it (within the deadline) instead of
    // sending the same adjustment twice.
    const waited = withDeadline(twin.taken, {
      timeoutMs: this.options.timeoutMs,
      what: `store "${this.store.name}" ${operation} (waiting for the abandoned attempt)`,
    });
    return Promise.resolve(waited).then(
      (taken) => (taken ? undefined : send()),
      (error: unknown) => {
        twin.leave();
        throw error;
      },
    );
  }

  /**
   * An adjust call the deadline gave up on landed with no retry waiting for it: the caller was
   * told "not applied", so the same deltas are taken back (a refund of a window that has ended
   * changed nothing and is left alone).
   */
  private undoAdjustment(items: readonly AdjustItem[]) {
    const now = this.clock.now();
    const inverse = items
      .filter((item) => item.delta > 0 || refundStillCounts(item.limit, item.chargedAt, now))
      .map((item) => ({ ...item, delta: -item.delta }));
    if (inverse.length === 0) return;
    const attempt = () => Promise.resolve().then(() => this.store.adjust(inverse));
    attempt()
      .catch(() => new Promise((resolve) => setTimeout(resolve, COMPENSATION_RETRY_MS)).then(attempt))
      .then(
        () => this.options.onCompensation?.({ applied: true, counters: items.length }),
        (error: unknown) => {
          this.options.onStoreError?.(error, "compensate adjust");
          this.options.onCompensation?.({ applied: false, counters: items.length });
        },
      );
  }

  /** Claims a call on every node named; throws without claiming any when one is open. */
  private take(names: readonly string[]): Partition[] {
    const parts: Partition[] = [];
    for (const name of names) {
      const part = this.partition(name);
      if (!part.breaker.allow()) {
        for (const taken of parts) taken.breaker.abandon();
        for (const n of names) this.partition(n).failedCalls++;
        throw new StoreUnavailableError(
          `store "${this.store.name}" node ${name} skipped: circuit breaker open (${part.lastError || "failing"})`,
        );
      }
      parts.push(part);
    }
    return parts;
  }

  /** The least recent progress over `names`: a call waits on every node it touches. */
  private lastProgress(names: readonly string[]): number {
    const store = this.store;
    let least = Number.POSITIVE_INFINITY;
    for (const name of names) {
      const answered = this.partitions.get(name)?.lastAnswer ?? Number.NEGATIVE_INFINITY;
      const replied = store.lastReplyAt?.(name) ?? Number.NEGATIVE_INFINITY;
      least = Math.min(least, Math.max(answered, replied));
    }
    return least;
  }

  private succeeded(parts: Partition[]) {
    const now = globalThis.performance.now();
    for (const p of parts) {
      p.lastAnswer = now;
      p.breaker.success();
    }
  }

  private failed(parts: Partition[], error: unknown) {
    const message = messageOf(error);
    // A timeout while our own process was stalled says nothing about the store.
    const inconclusive = error instanceof StoreTimeoutError && error.lagged;
    // A store that knows which node failed says so; then only that node's breaker hears of it.
    const node = (error as { partition?: unknown } | null)?.partition;
    const blamed = typeof node === "string" && parts.some((p) => p.name === node) ? node : undefined;
    for (const p of parts) {
      p.failedCalls++;
      if (blamed !== undefined && p.name !== blamed) {
        p.breaker.inconclusive();
        continue;
      }
      p.lastError = message;
      if (inconclusive) p.breaker.inconclusive();
      else p.breaker.failure();
    }
  }

  private partition(name: string): Partition {
    const part = this.partitions.get(name);
    if (part !== undefined) return part;
    const created: Partition = {
      name,
      since: 0,
      failedCalls: 0,
      lastError: "",
      lastAnswer: Number.NEGATIVE_INFINITY,
      breaker: new CircuitBreaker(this.clock, this.options.breaker || {}, (state, previous) =>
        this.changed(created, state, previous),
      ),
    };
    this.partitions.set(name, created);
    return created;
  }

  private changed(part: Partition, state: BreakerState, previous: BreakerState) {
    const now = this.clock.now();
    this.options.onBreakerChange?.(state, part.name);
    if (state === "open" && previous === "closed") {
      const degradedAt = now;
      part.since = degradedAt;
      this.emit({
        type: "store_degraded",
        store: this.store.name,
        partition: part.name,
        at: now,
        error: part.lastError,
      });
    } else if (state === "closed") {
      const event: HealthEvent = {
        type: "store_recovered",
        store: this.store.name,
        partition: part.name,
        at: now,
        durationMs: Math.max(0, now - part.since),
        failedCalls: part.failedCalls,
      };
      part.since = now;
      part.failedCalls = 0;
      this.emit(event);
    }
    if (state === "open") this.scheduleProbe(part);
  }

  private emit(event: HealthEvent) {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // A listener's bug must not break decisions.
      }
    }
  }

  /** After the cool-down, pings the node: recovery is noticed without waiting for a decision. */
  private scheduleProbe(part: Partition) {
    const ping = this.store.ping;
    if (ping === undefined || part.probe !== undefined) return;
    part.probe = setTimeout(() => {
      part.probe = undefined;
      if (part.breaker.state === "closed") return;
      if (!part.breaker.allow()) {
        // A decision holds the trial, or the clock has not reached the cool-down: look again later.
        if (part.breaker.state === "open") this.scheduleProbe(part);
        return;
      }
      let answer: Promise<void>;
      try {
        answer = Promise.resolve(
          withDeadline(ping.call(this.store, part.name === this.store.name ? undefined : part.name), {
            timeoutMs: this.options.timeoutMs,
            what: `store "${this.store.name}" ping`,
          }),
        );
      } catch (error) {
        answer = Promise.reject(error);
      }
      answer.then(
        () => part.breaker.success(),
        (error: unknown) => {
          part.lastError = messageOf(error);
          part.breaker.failure();
        },
      );
    }, part.breaker.coolDownMs);
    (part.probe as { unref?: () => void }).unref?.();
  }
}
