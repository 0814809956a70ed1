import type { AlertEvent, Severity } from "../types.js";

/** What one delivery attempt gives a sink to send. */
export interface Attempt {
  /** `X-Tollgate-Delivery`: the same on every retry of this delivery. */
  deliveryId: string;
  /** 1 for the first try. */
  number: number;
  /** Aborts the attempt (shutdown). Shared by every attempt: listen once, not per attempt. */
  signal: AbortSignal;
  /** The attempt's time limit: the sink gives up waiting for the receiver after it. */
  timeoutMs: number;
}

export type SendOutcome =
  | { ok: true; status?: number }
  | {
      ok: false;
      /** false: the receiver refused the request itself (4xx); trying again cannot help. */
      retryable: boolean;
      /** Why, in words; never the sink URL. */
      error: string;
      status?: number;
      /** The receiver asked for this wait (Retry-After on 429/503). */
      retryAfterMs?: number;
    };

/** A place alerts go. Built from a sink config by `createSink`. */
export interface Sink {
  readonly name: string;
  readonly type: "webhook" | "slack" | "discord" | "log";
  /** Where it delivers, redacted for display (scheme and host only). */
  readonly target: string;
  readonly severity: Severity;
  /** Whether this sink takes the event (its severity floor and event filter): decided before it is built. */
  accepts(event: Pick<AlertEvent, "type" | "severity">): boolean;
  send(event: AlertEvent, attempt: Attempt): Promise<SendOutcome>;
  /**
   * Sinks that do no I/O (the log) deliver at once: the queue calls this instead of `send`,
   * without a timer, an abort signal or a promise per delivery.
   */
  deliverNow?(event: AlertEvent, attempt: Attempt): SendOutcome;
}
