import type { Clock } from "./clock.js";
import { StoreUnavailableError } from "./errors.js";

export type BreakerState = "closed" | "open" | "half-open";

export interface BreakerOptions {
  /** Consecutive store failures that open the breaker. Default 5. */
  failureThreshold?: number;
  /** How long an open breaker skips the store before one trial call. Default 5 s. */
  coolDownMs?: number;
}

/**
 * A circuit breaker: after `failureThreshold` consecutive failures the store is not called for
 * `coolDownMs`; then a single trial call decides between closing and another cool-down. Calls
 * skipped while open fail at once, so an outage costs no timeout per decision.
 */
export class CircuitBreaker {
  private failures = 0;
  private openedAt = 0;
  private trialInFlight = false;
  state: BreakerState = "closed";
  private readonly threshold: number;
  private readonly coolDownMs: number;

  constructor(
    private readonly clock: Clock,
    options: BreakerOptions = {},
    private readonly onChange?: (state: BreakerState) => void,
  ) {
    this.threshold = options.failureThreshold ?? 5;
    this.coolDownMs = options.coolDownMs ?? 5_000;
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

  success(): void {
    this.failures = 0;
    this.trialInFlight = false;
    if (this.state !== "closed") this.transition("closed");
  }

  failure(): void {
    this.failures++;
    this.trialInFlight = false;
    if (this.state === "half-open" || (this.state === "closed" && this.failures >= this.threshold)) {
      this.openedAt = this.clock.now();
      this.transition("open");
    }
  }

  private transition(state: BreakerState) {
    this.state = state;
    this.onChange?.(state);
  }
}

/**
 * Resolves `value` or rejects with StoreUnavailableError after `timeoutMs`. Synchronous values pass
 * straight through: the memory store pays nothing for the timeout machinery.
 */
export function withTimeout<T>(value: T | Promise<T>, timeoutMs: number, what: string): T | Promise<T> {
  if (!(value instanceof Promise)) return value;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new StoreUnavailableError(`${what} did not answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    timer.unref?.();
    value.then(
      (result) => {
        clearTimeout(timer);
        resolve(result);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
