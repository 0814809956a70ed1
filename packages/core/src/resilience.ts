import type { Clock } from "./clock.js";
import { StoreUnavailableError } from "./errors.js";
import { type LoopClock, loopClock } from "./loop-clock.js";

export type BreakerState = "closed" | "open" | "half-open";

export interface BreakerOptions {
  /**
   * Failed store calls within `windowMs` that open the breaker, when they are also at least
   * `failureRate` of the calls made in that window. Default 5.
   */
  failureThreshold?: number;
  /** Share (0-1] of the window's calls that must have failed to open the breaker. Default 0.5. */
  failureRate?: number;
  /** Rolling window the failures are weighed over. Default 1 s. */
  windowMs?: number;
  /**
   * How long failures must go on with no store call succeeding before the breaker opens.
   * A burst of failures at one instant (one slow batched round trip carries many decisions) is
   * one event, not a dead store. Default 200 ms.
   */
  failingForMs?: number;
  /**
   * How long an open breaker skips the store before a probe (`store.ping`) or a single trial call
   * decides between closing and another cool-down. Default 500 ms.
   */
  coolDownMs?: number;
}

export const DEFAULT_BREAKER = Object.freeze({
  failureThreshold: 5,
  failureRate: 0.5,
  windowMs: 1_000,
  failingForMs: 200,
  coolDownMs: 500,
});

/**
 * A circuit breaker over one store node. It opens when, over a rolling window, at least
 * `failureThreshold` calls failed, they were at least `failureRate` of all calls, and no call
 * succeeded for `failingForMs`: one slow round trip among thousands of fast ones does not open
 * it, a dead node (every call failing) does within `failingForMs`. While open, calls fail at once (an outage costs no timeout per decision); after
 * `coolDownMs` one trial (a probe or a decision) decides between closing and another cool-down.
 *
 * Outcomes that say nothing about the store (a timeout while our own event loop was stalled)
 * are reported with `inconclusive()` and weigh on neither side.
 */
export class CircuitBreaker {
  private openedAt = 0;
  private trialInFlight = false;
  /** Two half-windows: [start, calls, failures] of the current one, and the previous one's counts. */
  private windowStart = 0;
  private calls = 0;
  private failures = 0;
  private previousCalls = 0;
  private previousFailures = 0;
  /** Time of the first failure since the last success (undefined: the last call succeeded). */
  private failingSince: number | undefined;
  state: BreakerState = "closed";
  private readonly threshold: number;
  private readonly rate: number;
  private readonly windowMs: number;
  private readonly failingForMs: number;
  readonly coolDownMs: number;

  constructor(
    private readonly clock: Clock,
    options: BreakerOptions = {},
    private readonly onChange?: (state: BreakerState, previous: BreakerState) => void,
  ) {
    this.threshold = Math.max(1, options.failureThreshold ?? DEFAULT_BREAKER.failureThreshold);
    this.rate = Math.min(1, Math.max(0, options.failureRate ?? DEFAULT_BREAKER.failureRate));
    this.windowMs = Math.max(1, options.windowMs ?? DEFAULT_BREAKER.windowMs);
    this.failingForMs = Math.max(0, options.failingForMs ?? DEFAULT_BREAKER.failingForMs);
    this.coolDownMs = Math.max(0, options.coolDownMs ?? DEFAULT_BREAKER.coolDownMs);
  }

  /** May the store be called now? Moves open -> half-open after the cool-down, admitting one trial. */
  allow(): boolean {
    if (this.state === "closed") return true;
    if (this.state === "open" && this.clock.now() - this.openedAt >= this.coolDownMs) this.transition("half-open");
    if (this.state === "half-open" && !this.trialInFlight) {
      this.trialInFlight = true;
      return true;
    }
    return false;
  }

  /** Gives back a trial taken by `allow()` when the call was not made after all. */
  abandon(): void {
    this.trialInFlight = false;
  }

  success(): void {
    this.trialInFlight = false;
    this.failingSince = undefined;
    if (this.state !== "closed") {
      this.resetWindow();
      this.transition("closed");
      return;
    }
    this.roll();
    this.calls++;
  }

  failure(): void {
    this.trialInFlight = false;
    if (this.state === "half-open") {
      this.open();
      return;
    }
    if (this.state !== "closed") return;
    this.roll();
    this.calls++;
    this.failures++;
    const now = this.clock.now();
    this.failingSince ??= now;
    if (now - this.failingSince < this.failingForMs) return;
    // The previous half-window counts for the share of it still inside the rolling window.
    const weight = 1 - Math.min(1, (now - this.windowStart) / this.halfWindow());
    const failures = this.failures + this.previousFailures * weight;
    const calls = this.calls + this.previousCalls * weight;
    if (failures >= this.threshold && failures >= this.rate * calls) this.open();
  }

  /** The call ended without telling anything about the store (our own process was stalled). */
  inconclusive(): void {
    if (!this.trialInFlight) return;
    // A trial must conclude: without an answer, the breaker waits for another cool-down.
    this.trialInFlight = false;
    if (this.state === "half-open") this.open();
  }

  private open() {
    this.openedAt = this.clock.now();
    this.transition("open");
  }

  private halfWindow() {
    return this.windowMs / 2;
  }

  private roll() {
    const now = this.clock.now();
    const elapsed = now - this.windowStart;
    if (elapsed < this.halfWindow()) return;
    if (elapsed < 2 * this.halfWindow()) {
      this.previousCalls = this.calls;
      this.previousFailures = this.failures;
    } else {
      this.previousCalls = 0;
      this.previousFailures = 0;
    }
    this.calls = 0;
    this.failures = 0;
    this.windowStart = now;
  }

  private resetWindow() {
    this.failingSince = undefined;
    this.calls = 0;
    this.failures = 0;
    this.previousCalls = 0;
    this.previousFailures = 0;
    this.windowStart = this.clock.now();
  }

  private transition(state: BreakerState) {
    const previous = this.state;
    this.state = state;
    this.onChange?.(state, previous);
  }
}

/**
 * A store call that did not answer in time. `lagged` says the deadline gave up at `maxWaitMs` of
 * wall time before the store had had `timeoutMs` of our available time (the process was stalled
 * nearly throughout): the time was ours, not the store's, and the breaker does not count it.
 */
export class StoreTimeoutError extends StoreUnavailableError {
  override name = "StoreTimeoutError";
  constructor(
    message: string,
    readonly lagged: boolean,
  ) {
    super(message);
  }
}

export interface DeadlineOptions {
  /** The store's time to answer, counted in time our event loop was available (see LoopClock). */
  timeoutMs: number;
  /** Text naming the call in the error. */
  what: string;
  /**
   * Longest total wait (wall time) however stalled the process is. Default 30 s: a process that
   * stays stalled that long cannot answer anyone.
   */
  maxWaitMs?: number;
  /** The call answered after the deadline gave up on it (compensate what it did). */
  onLateResult?: (value: unknown) => void;
  /**
   * When (`performance.now()` ms) the store last showed progress on the nodes this call waits for:
   * the least recent of their last replies. A node that keeps replying (to this call's earlier
   * round trips, or to other calls queued before it) is alive and working through our requests:
   * the call fails only once a node has been silent for `timeoutMs`, so a hung or unreachable node
   * is still detected within `timeoutMs` of its last reply.
   */
  lastProgress?: () => number;
  /** Longest wall wait for a store that keeps making progress. Default max(1 s, 10 x timeoutMs). */
  slowMaxWaitMs?: number;
  /** The clock of available time (tests inject one). Default: the process's {@link loopClock}. */
  loop?: Pick<LoopClock, "hold" | "release" | "now" | "at">;
}

const monotonicNow = () => globalThis.performance.now();
/** Runs after the event loop's next I/O phase (Node's setImmediate; a zero timer elsewhere). */
const afterIo: (callback: () => void) => void =
  typeof globalThis.setImmediate === "function"
    ? (callback) => globalThis.setImmediate(callback)
    : (callback) => setTimeout(callback, 0);

/**
 * Resolves `value` or rejects with a StoreTimeoutError once the store had `timeoutMs` to answer.
 * Synchronous values pass straight through: the memory store pays nothing for the machinery.
 *
 * The time counted is the store's, not our own queue's. The call fails only when both hold:
 * - it has waited `timeoutMs` of time our event loop was available (LoopClock), counted from
 *   after the current event-loop turn, once the request has been written: time our process was
 *   starved of CPU or busy with a long task is not the store's;
 * - its nodes show no progress (`lastProgress`): none replied to anything for `timeoutMs` of
 *   available time. A store answering a queue of our requests is slow, not dead.
 * And before giving up, the event loop reads the sockets once more (`setImmediate` runs after the
 * I/O phase that follows the timers phase), so an answer that already arrived is never thrown away.
 */
export function withDeadline<T>(value: T | Promise<T>, options: DeadlineOptions): T | Promise<T> {
  if (!(value instanceof Promise)) return value;
  const { timeoutMs, what, lastProgress } = options;
  const loop = options.loop ?? loopClock;
  const maxWait = options.maxWaitMs ?? 30_000;
  const slowMaxWait = Math.min(maxWait, options.slowMaxWaitMs ?? Math.max(1_000, 10 * timeoutMs));
  return new Promise<T>((resolve, reject) => {
    const started = monotonicNow();
    let availableFrom = 0;
    let settled = false;
    let gaveUp = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    loop.hold();
    const done = () => {
      settled = true;
      if (timer !== undefined) clearTimeout(timer);
      loop.release();
    };
    const arm = (delay: number) => {
      timer = setTimeout(expire, Math.max(1, Math.ceil(delay)));
      (timer as { unref?: () => void }).unref?.();
    };
    const giveUp = () => {
      if (settled) return;
      const waited = monotonicNow() - started;
      const available = loop.now() - availableFrom;
      // Given up at maxWait before the store had its timeoutMs of our available time: the wait
      // was mostly our own stall, which says nothing about the store.
      const lagged = available < timeoutMs;
      gaveUp = true;
      done();
      reject(
        new StoreTimeoutError(
          lagged
            ? `${what} did not answer within ${Math.round(waited)} ms (this process was stalled for ${Math.round(waited - available)} ms of it; not counted against the store)`
            : `${what} did not answer within ${timeoutMs} ms`,
          lagged,
        ),
      );
    };
    const expire = () => {
      timer = undefined;
      if (settled) return;
      const waited = monotonicNow() - started;
      if (waited < maxWait) {
        const now = loop.now();
        // Our own stalls do not count: wait until the store has had timeoutMs of available time.
        const available = now - availableFrom;
        if (available < timeoutMs) {
          arm(Math.min(timeoutMs - available, maxWait - waited));
          return;
        }
        if (lastProgress !== undefined && waited < slowMaxWait) {
          const silent = now - loop.at(Math.max(lastProgress(), started));
          if (silent < timeoutMs) {
            // Alive and working through our requests: fail only once it has been silent timeoutMs.
            arm(Math.min(timeoutMs - silent, slowMaxWait - waited));
            return;
          }
        }
      }
      afterIo(giveUp);
    };
    // The clock starts once this turn's synchronous work is done and the store's batched writes
    // have left (Redis batches flush on setImmediate, queued before this one): the time counted
    // is from the write, not from when the caller got in line.
    afterIo(() => {
      if (settled) return;
      availableFrom = loop.now();
      arm(timeoutMs);
    });
    value.then(
      (result) => {
        if (gaveUp) {
          options.onLateResult?.(result);
          return;
        }
        if (settled) return;
        done();
        resolve(result);
      },
      (error: unknown) => {
        if (settled) return;
        done();
        reject(error);
      },
    );
  });
}

/**
 * Resolves `value` or rejects with StoreUnavailableError after `timeoutMs`. Synchronous values pass
 * straight through. Kept for callers outside the limiter; the limiter uses {@link withDeadline}.
 */
export function withTimeout<T>(value: T | Promise<T>, timeoutMs: number, what: string): T | Promise<T> {
  return withDeadline(value, { timeoutMs, what });
}
