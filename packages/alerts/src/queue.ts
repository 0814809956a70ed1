import type { DeliveryLog, DeliveryRecord } from "./deliveries.js";
import { deliveryId } from "./ids.js";
import type { AlertLogger } from "./logger.js";
import type { AlertMetrics, AlertStats } from "./metrics.js";
import type { SendOutcome, Sink } from "./sinks/index.js";
import type { AlertEvent, AlertEventType, Severity } from "./types.js";

/**
 * An event as the decision path hands it over: what routing needs (type, severity) and how to
 * build the rest. The worker builds it once, later, for all its sinks: ids (digests), ISO times
 * and the object itself cost microseconds the decision that raised it should not pay.
 */
export interface EventDraft {
  readonly type: AlertEventType;
  readonly severity: Severity;
  build(): AlertEvent;
}

interface Intake {
  draft: EventDraft;
  sinks: readonly Sink[];
  /** Why it is dropped (queue full, closed), decided when it was handed over. */
  dropped: string | undefined;
}

export interface DeliveryOptions {
  /** Deliveries held at once (queued, in flight, waiting to retry); past it new ones are dropped. Default 10,000. */
  maxQueued?: number;
  /** Sends in flight at once, across sinks. Default 8. */
  concurrency?: number;
  /** Tries per delivery before the dead letter. Default 6. */
  maxAttempts?: number;
  /** First retry delay; each next one doubles (with jitter). Default 1 s. */
  baseDelayMs?: number;
  /** Longest retry delay. Default 5 min. */
  maxDelayMs?: number;
  /** One try's time limit. Default 10 s. */
  timeoutMs?: number;
  /** Jitter source (tests pin it). */
  random?: () => number;
}

interface Job {
  record: DeliveryRecord;
  sink: Sink;
  /**
   * The record write still running for this delivery, if any: the next waits for it (an async log
   * must not see `delivered` before `pending`). A synchronous log (memory) never leaves one.
   */
  writes: Promise<void> | undefined;
  timer?: NodeJS.Timeout;
}

/**
 * Delivers events to sinks off the decision path: a bounded queue, a few sends at a time, retries
 * with exponential backoff and jitter (or the receiver's Retry-After), a dead letter after the
 * last try. Enqueuing never waits and never throws; a full queue drops and counts.
 */
export class DeliveryQueue {
  /** Events handed over since the last flush; built and queued in one batch per turn of the event loop. */
  private intake: Intake[] = [];
  /** Deliveries in `intake` that will be queued (not dropped). */
  private intakeDeliveries = 0;
  private flushScheduled = false;
  /** Dropped events in `intake`, held to be recorded. */
  private droppedHeld = 0;
  private readonly waiting: Job[] = [];
  private waitingHead = 0;
  private readonly retrying = new Set<Job>();
  private inFlight = 0;
  private closed = false;
  /** Aborted at close (after the grace): every send in flight ends. */
  private readonly closing = new AbortController();
  private idle: (() => void)[] = [];
  private readonly pendingWrites = new Set<Promise<void>>();
  private readonly maxQueued: number;
  private readonly concurrency: number;
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly timeoutMs: number;
  private readonly random: () => number;
  private lastDropWarning = 0;
  readonly stats: AlertStats = {
    events: 0,
    delivered: 0,
    retried: 0,
    dead: 0,
    dropped: 0,
    queued: 0,
    inFlight: 0,
    unroutable: 0,
  };

  constructor(
    private readonly log: DeliveryLog,
    private readonly logger: AlertLogger,
    private readonly metrics: AlertMetrics,
    private readonly now: () => number,
    options: DeliveryOptions = {},
  ) {
    this.maxQueued = options.maxQueued ?? 10_000;
    this.concurrency = options.concurrency ?? 8;
    this.maxAttempts = options.maxAttempts ?? 6;
    this.baseDelayMs = options.baseDelayMs ?? 1000;
    this.maxDelayMs = options.maxDelayMs ?? 300_000;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.random = options.random ?? Math.random;
  }

  /** Deliveries held: queued, in flight or waiting for a retry. */
  get size(): number {
    return this.intakeDeliveries + this.waiting.length - this.waitingHead + this.inFlight + this.retrying.size;
  }

  /**
   * Hands an event over for delivery to `sinks`. O(1) and allocation-light: it runs inside the
   * decision that raised the event. Building, recording and sending happen on the next turn of
   * the event loop, for every event handed over meanwhile at once.
   */
  enqueue(draft: EventDraft, sinks: readonly Sink[]): void {
    this.stats.events++;
    this.metrics.event(draft.type);
    let dropped: string | undefined;
    if (this.closed) dropped = "alerts closed";
    else if (this.size + sinks.length > this.maxQueued) dropped = `delivery queue full (${this.maxQueued})`;
    if (dropped === undefined) {
      this.intakeDeliveries += sinks.length;
      this.intake.push({ draft, sinks, dropped });
    } else {
      // Counted now; recorded at the flush, up to a bound (a flood of drops must not hold memory).
      for (const sink of sinks) this.metrics.delivery(sink.name, draft.type, "dropped");
      this.stats.dropped += sinks.length;
      if (this.droppedHeld < this.maxQueued) {
        this.droppedHeld++;
        this.intake.push({ draft, sinks, dropped });
      }
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flush);
    }
  }

  /** Builds the events handed over since the last flush, records their deliveries and starts sending. */
  private readonly flush = () => {
    this.flushScheduled = false;
    const batch = this.intake;
    this.intake = [];
    this.intakeDeliveries = 0;
    this.droppedHeld = 0;
    const at = new Date(this.now()).toISOString();
    for (const { draft, sinks, dropped } of batch) {
      let event: AlertEvent;
      try {
        event = draft.build();
      } catch (error) {
        this.logger.error({ err: error, type: draft.type }, "could not build an alert event; it is skipped");
        continue;
      }
      for (const sink of sinks) {
        const record: DeliveryRecord = {
          id: deliveryId(event.id, sink.name),
          eventId: event.id,
          type: event.type,
          subject: event.subject,
          sink: sink.name,
          sinkType: sink.type,
          target: sink.target,
          status: "pending",
          attempts: 0,
          createdAt: at,
          updatedAt: at,
          event,
        };
        const job: Job = { record, sink, writes: undefined };
        if (dropped !== undefined) this.recordDrop(job, dropped);
        else if (this.closed) this.drop(job, "alerts closed");
        else if (sink.deliverNow !== undefined) this.deliverNow(job, sink.deliverNow);
        else {
          this.write(job);
          this.waiting.push(job);
        }
      }
    }
    this.changed();
    this.pump();
  };

  /** A sink without I/O: one try now, its one record written as it settles (no "pending" first). */
  private deliverNow(job: Job, deliver: NonNullable<Sink["deliverNow"]>) {
    const { record } = job;
    record.attempts++;
    let outcome: SendOutcome;
    try {
      outcome = deliver(record.event, {
        deliveryId: record.id,
        number: record.attempts,
        signal: this.closing.signal,
        timeoutMs: this.timeoutMs,
      });
    } catch (error) {
      outcome = { ok: false, retryable: true, error: error instanceof Error ? error.message : String(error) };
    }
    this.settle(job, outcome);
  }

  private drop(job: Job, reason: string) {
    this.stats.dropped++;
    this.metrics.delivery(job.sink.name, job.record.type, "dropped");
    this.recordDrop(job, reason);
  }

  /** Writes a dropped delivery's record (already counted). */
  private recordDrop(job: Job, reason: string) {
    const { record, sink } = job;
    record.status = "dropped";
    record.lastError = reason;
    this.write(job);
    // One warning per second at most: a flood of drops must not become a flood of log lines.
    if (this.now() - this.lastDropWarning > 1000) {
      this.lastDropWarning = this.now();
      this.logger.warn({ sink: sink.name, type: record.type, dropped: this.stats.dropped }, reason);
    }
  }

  /** Resolves when nothing is queued, in flight or waiting to retry, and every record is written. */
  async drain(): Promise<void> {
    if (this.size > 0 || this.intake.length > 0) await new Promise<void>((resolve) => this.idle.push(resolve));
    while (this.pendingWrites.size > 0) await Promise.all([...this.pendingWrites]);
  }

  /**
   * Stops taking deliveries and cancels pending retries; sends in flight get `graceMs` to finish,
   * then are aborted. What was not delivered stays in the log as it was last written.
   */
  async close(graceMs = 2000): Promise<void> {
    this.closed = true;
    // What was handed over or queued but not sent is recorded as dropped: nothing is sent after close.
    if (this.intake.length > 0) this.flush();
    for (let i = this.waitingHead; i < this.waiting.length; i++) this.drop(this.waiting[i] as Job, "alerts closed");
    for (const job of this.retrying) clearTimeout(job.timer);
    this.retrying.clear();
    this.waiting.length = 0;
    this.waitingHead = 0;
    if (this.inFlight > 0) {
      const timer = setTimeout(() => {
        this.closing.abort(new Error("alerts closed"));
      }, graceMs);
      timer.unref?.();
      await this.drain();
      clearTimeout(timer);
    }
    this.changed();
  }

  private pump() {
    while (!this.closed && this.inFlight < this.concurrency && this.waitingHead < this.waiting.length) {
      const job = this.waiting[this.waitingHead] as Job;
      this.waiting[this.waitingHead++] = undefined as never;
      if (this.waitingHead > 1024 && this.waitingHead * 2 > this.waiting.length) {
        this.waiting.splice(0, this.waitingHead);
        this.waitingHead = 0;
      }
      void this.send(job);
    }
  }

  private async send(job: Job) {
    this.inFlight++;
    this.changed();
    const { record, sink } = job;
    record.attempts++;
    const started = performance.now();
    let outcome: SendOutcome;
    try {
      // No timer or controller per try: the sink bounds the try by `timeoutMs`; `closing` aborts
      // every try in flight at shutdown.
      outcome = await sink.send(record.event, {
        deliveryId: record.id,
        number: record.attempts,
        signal: this.closing.signal,
        timeoutMs: this.timeoutMs,
      });
    } catch (error) {
      // A sink must not throw; if one does, it is a failed try like any other.
      outcome = { ok: false, retryable: true, error: error instanceof Error ? error.message : String(error) };
    }
    this.metrics.attempt(sink.name, (performance.now() - started) / 1000);
    this.inFlight--;
    this.settle(job, outcome);
    this.changed();
    this.pump();
  }

  private settle(job: Job, outcome: SendOutcome) {
    const { record, sink } = job;
    record.updatedAt = new Date(this.now()).toISOString();
    record.nextAttemptAt = undefined;
    if (outcome.ok) {
      record.status = "delivered";
      record.lastError = undefined;
      if (outcome.status !== undefined) record.lastStatus = outcome.status;
      this.stats.delivered++;
      this.metrics.delivery(sink.name, record.type, "delivered");
      this.write(job);
      return;
    }
    record.lastError = outcome.error;
    if (outcome.status !== undefined) record.lastStatus = outcome.status;
    else delete record.lastStatus;
    if (!outcome.retryable || record.attempts >= this.maxAttempts || this.closed) {
      record.status = "dead";
      this.stats.dead++;
      this.metrics.delivery(sink.name, record.type, "dead");
      this.write(job);
      this.logger.error(
        { delivery: record.id, event: record.eventId, type: record.type, sink: sink.name, attempts: record.attempts },
        `alert delivery to ${sink.name} gave up (dead letter): ${outcome.error}`,
      );
      return;
    }
    const delay = Math.max(this.backoff(record.attempts), outcome.retryAfterMs ?? 0);
    record.status = "retrying";
    record.nextAttemptAt = new Date(this.now() + delay).toISOString();
    this.stats.retried++;
    this.metrics.delivery(sink.name, record.type, "retried");
    this.write(job);
    this.retrying.add(job);
    job.timer = setTimeout(() => {
      this.retrying.delete(job);
      if (this.closed) return;
      this.waiting.push(job);
      this.pump();
    }, delay);
    job.timer.unref?.();
  }

  /** Exponential backoff with jitter: half the doubled delay fixed, half random ("equal jitter"). */
  backoff(attempt: number): number {
    const ceiling = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (attempt - 1));
    return Math.round(ceiling / 2 + this.random() * (ceiling / 2));
  }

  private write(job: Job) {
    const snapshot: DeliveryRecord = { ...job.record };
    const failed = (error: unknown) =>
      this.logger.error({ err: error, delivery: snapshot.id }, "could not record an alert delivery");
    let result: void | Promise<void>;
    if (job.writes === undefined) {
      try {
        result = this.log.record(snapshot);
      } catch (error) {
        failed(error);
        return;
      }
      if (!(result instanceof Promise)) return;
    } else {
      result = job.writes.then(() => this.log.record(snapshot));
    }
    const written: Promise<void> = result.catch(failed).finally(() => {
      this.pendingWrites.delete(written);
      if (job.writes === written) job.writes = undefined;
    });
    this.pendingWrites.add(written);
    job.writes = written;
  }

  private changed() {
    this.stats.queued = this.size;
    this.stats.inFlight = this.inFlight;
    this.metrics.queueDepth(this.size);
    if (this.size === 0 && this.idle.length > 0) {
      const waiters = this.idle;
      this.idle = [];
      for (const resolve of waiters) resolve();
    }
  }
}
