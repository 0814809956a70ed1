import type { Clock } from "./clock.js";
import { StoreUnavailableError } from "./errors.js";
import {
  type BreakerOptions,
  type BreakerState,
  CircuitBreaker,
  StoreTimeoutError,
  withDeadline,
} from "./resilience.js";
import type { CounterRef, Store } from "./store.js";

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
}

const WORST: Record<BreakerState, number> = { closed: 0, "half-open": 1, open: 2 };

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
    const store = this.store;
    const names = this.options.breaker === false ? this.single : (store.partitionsOf?.(refs) ?? this.single);
    const parts = this.options.breaker === false ? undefined : this.take(names);
    let value: T | Promise<T>;
    try {
      value = withDeadline(call.call(store, argument), {
        timeoutMs: this.options.timeoutMs,
        what: `store "${store.name}" ${operation}`,
        ...(onLateResult ? { onLateResult: onLateResult as (value: unknown) => void } : {}),
        ...(parts ? { answeredSince: (since: number) => parts.every((p) => p.lastAnswer > since) } : {}),
      });
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
