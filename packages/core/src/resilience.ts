import type { Clock } from "./clock.js";
import { StoreUnavailableError } from "./errors.js";

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
 * A store call that did not answer in time. `lagged` says our own process was stalled (its timers
 * fired late) while it waited: the time was ours, not the store's, and the breaker does not
 * count it against the store.
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
  /** The store's time to answer. */
  timeoutMs: number;
  /** Text naming the call in the error. */
  what: string;
  /**
   * A timer that fires later than this past its due time shows our event loop was stalled
   * (CPU starved, a long synchronous task): the store gets another `timeoutMs`. Default
   * max(10 ms, timeoutMs / 2).
   */
  lagToleranceMs?: number;
  /**
   * Longest total wait however stalled the process is. Default 30 s: a process that stays
   * stalled that long cannot answer anyone, and as soon as it runs on time again the store gets
   * one more `timeoutMs` and no more.
   */
  maxWaitMs?: number;
  /** The call answered after the deadline gave up on it (compensate what it did). */
  onLateResult?: (value: unknown) => void;
  /**
   * Has the store answered another call since `since` (monotonic ms: when this call started)?
   * Then it is alive and only slow (a loaded machine, a long queue): the call may wait up to
   * `slowMaxWaitMs` instead of degrading. A hung or unreachable store answers nothing and still times out at `timeoutMs`.
   */
  answeredSince?: (since: number) => boolean;
  /** Longest wait for a store that keeps answering other calls. Default max(1 s, 10 x timeoutMs). */
  slowMaxWaitMs?: number;
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
 * The time counted is the store's, not our own queue's:
 * - it starts after the current event-loop turn, once the request has been written;
 * - a timer that fires late (our process was not running) re-arms for another `timeoutMs`, up to
 *   `maxWaitMs`, so a CPU-starved process does not declare a healthy store dead;
 * - a store that answered other calls meanwhile is alive and slow: the call waits longer (up to
 *   `slowMaxWaitMs`) rather than degrade;
 * - a timer that fires on time still lets the event loop read the sockets once (`setImmediate`
 *   runs after the I/O phase that follows the timers phase) before giving up, so an answer that
 *   already arrived is never thrown away.
 */
export function withDeadline<T>(value: T | Promise<T>, options: DeadlineOptions): T | Promise<T> {
  if (!(value instanceof Promise)) return value;
  const { timeoutMs, what } = options;
  const tolerance = options.lagToleranceMs ?? Math.max(10, timeoutMs / 2);
  const maxWait = options.maxWaitMs ?? 30_000;
  const slowMaxWait = Math.min(maxWait, options.slowMaxWaitMs ?? Math.max(1_000, 10 * timeoutMs));
  const { answeredSince } = options;
  return new Promise<T>((resolve, reject) => {
    const started = monotonicNow();
    let settled = false;
    let gaveUp = false;
    let lagged = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const arm = (delay: number) => {
      const due = monotonicNow() + delay;
      timer = setTimeout(() => expire(due), delay);
      (timer as { unref?: () => void }).unref?.();
    };
    const giveUp = () => {
      if (settled) return;
      gaveUp = true;
      settled = true;
      const waited = Math.round(monotonicNow() - started);
      reject(
        new StoreTimeoutError(
          lagged
            ? `${what} did not answer within ${waited} ms (this process was stalled; not counted against the store)`
            : `${what} did not answer within ${timeoutMs} ms`,
          lagged,
        ),
      );
    };
    const expire = (due: number) => {
      if (settled) return;
      const now = monotonicNow();
      const lateness = now - due;
      const waited = now - started;
      if (lateness > tolerance) lagged = true;
      if (lateness > tolerance && waited < maxWait) {
        arm(Math.min(timeoutMs, maxWait - waited));
        return;
      }
      if (answeredSince !== undefined && waited < slowMaxWait && answeredSince(started)) {
        // Alive but slow: other calls came back while this one waited.
        arm(Math.min(timeoutMs, slowMaxWait - waited));
        return;
      }
      afterIo(giveUp);
    };
    // The clock starts once this turn's synchronous work is done and the store's batched writes
    // have left (Redis batches flush on setImmediate, queued before this one): the time counted
    // is from the write, not from when the caller got in line.
    afterIo(() => {
      if (!settled) arm(timeoutMs);
    });
    value.then(
      (result) => {
        if (timer !== undefined) clearTimeout(timer);
        if (gaveUp) options.onLateResult?.(result);
        if (settled) return;
        settled = true;
        resolve(result);
      },
      (error: unknown) => {
        if (timer !== undefined) clearTimeout(timer);
        if (settled) return;
        settled = true;
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
