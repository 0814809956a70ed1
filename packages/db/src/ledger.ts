import { randomUUID } from "node:crypto";
import { type CounterRef, type Limit, periodBounds, type UsageObserver } from "@tollgate/core";
import { type Kysely, sql } from "kysely";
import type { Database } from "./schema.js";

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

export interface LedgerOptions {
  /** How often buffered usage is written (ms). Also the most a crash can lose. Default 1000. */
  flushIntervalMs?: number;
  /**
   * Aggregated rows (subject x counter x hour x category x plan) held in memory at most while
   * SQL is slow or down. Past it, usage of new rows is dropped and counted (`dropped`); rows
   * already buffered keep aggregating. Default 200,000 (roughly 60 MB).
   */
  maxPending?: number;
  /** Rows per batch (one transaction). Default 20,000. */
  maxBatch?: number;
  /** Usage older than this many days is deleted (hourly rows and periods). Default 400. */
  retentionDays?: number;
  /** A batch write slower than this counts as failed and is retried with the same id. Default 10,000 ms. */
  writeTimeoutMs?: number;
  /** Time for retention; default Date.now. */
  now?: () => number;
  /** A write failed (first failure, then at most once a minute while it keeps failing). */
  onError?(error: unknown, stats: LedgerStats): void;
  /** Writes succeed again after failures: the backlog drains. */
  onRecover?(stats: LedgerStats): void;
}

export interface LedgerStats {
  /** Aggregated rows waiting in memory, the batch being retried included. */
  pending: number;
  /** Units of usage waiting in memory. */
  pendingQuantity: number;
  /** Rows and units dropped because the buffer was full (SQL down for long). */
  droppedRows: number;
  droppedQuantity: number;
  /** Rows written and batches committed since start. */
  writtenRows: number;
  batches: number;
  /** Batch writes that failed (and were retried). */
  failures: number;
  /** The last write failed, or usage was dropped since the last successful write. */
  degraded: boolean;
  lastError?: string;
  /** Age in ms of the oldest usage not yet written (0 when none). */
  backlogMs: number;
}

/** One aggregated row of the buffer. */
interface Delta {
  subject: string;
  counter: string;
  limitName: string;
  unit: string;
  category: string;
  plan: string;
  bucket: number;
  /** First instant after the bucket (the next hour, or the period's end). */
  bucketEnd: number;
  periodStart: number;
  periodEnd: number;
  quantity: number;
  /** When the first of its usage was recorded (backlog age). */
  since: number;
  /** Moved into a batch: no longer aggregates. */
  taken: boolean;
}

interface Batch {
  id: string;
  deltas: Delta[];
}

/**
 * The usage ledger's writer: an observer for `createLimiter({ usage })`.
 *
 * `record` runs on the decision path and only adds to an in-memory map keyed by (subject,
 * counter, hour, category, plan): no I/O, no promise. A timer writes the map every
 * `flushIntervalMs` as one batch, in one transaction: the batch id is inserted first, so a batch
 * retried after a timeout whose first attempt did commit is skipped, never counted twice. While
 * SQL is down the map keeps aggregating (bounded by `maxPending`) and the failed batch is retried
 * as is; `close()` writes everything before returning.
 */
export interface Ledger extends Required<UsageObserver> {
  /** Writes everything buffered now (tests, shutdown). Rejects if SQL fails. */
  flush(): Promise<void>;
  /** Stops the timer and writes what is buffered (up to `timeoutMs`, default 10 s). */
  close(timeoutMs?: number): Promise<void>;
  stats(): LedgerStats;
}

/** The calendar period a usage row belongs to: the quota's own, else the UTC month. */
function periodOf(limit: Limit, at: number) {
  return limit.algorithm === "quota"
    ? periodBounds(at, limit.period ?? "month", limit.timeZone)
    : periodBounds(at, "month", "UTC");
}

/**
 * Opens the ledger writer on a migrated database (`openDb`).
 *
 * @example
 * const ledger = createLedger(db.kysely);
 * const limiter = createLimiter({ store, limits, usage: ledger });
 * // ... at shutdown
 * await ledger.close();
 */
export function createLedger(kysely: Kysely<Database>, options: LedgerOptions = {}): Ledger {
  const flushIntervalMs = options.flushIntervalMs ?? 1000;
  const maxPending = options.maxPending ?? 200_000;
  const maxBatch = options.maxBatch ?? 20_000;
  const retentionMs = (options.retentionDays ?? 400) * DAY_MS;
  const writeTimeoutMs = options.writeTimeoutMs ?? 10_000;
  const now = options.now ?? Date.now;
  let buffer = new Map<string, Delta>();
  let retrying: Batch | undefined;
  let bufferQuantity = 0;
  const stats = {
    droppedRows: 0,
    droppedQuantity: 0,
    writtenRows: 0,
    batches: 0,
    failures: 0,
    failing: false,
    droppedSinceWrite: false,
    lastError: undefined as string | undefined,
    lastReported: 0,
  };
  // First sweep an hour after start: none of its deletes compete with a server's first requests
  // (PGlite runs in the server's own thread).
  let lastRetention = now();
  // A restore reads SQL plus the buffer: no batch may move from one to the other meanwhile. Reads
  // run side by side (a flushed Redis sends many at once); a write waits for the reads in progress
  // and holds new ones until it is done.
  let writing: Promise<void> | undefined;
  let reads = 0;
  let readsDone: (() => void) | undefined;
  async function shared<T>(task: () => Promise<T>): Promise<T> {
    while (writing !== undefined) await writing;
    reads++;
    try {
      return await task();
    } finally {
      reads--;
      if (reads === 0) readsDone?.();
    }
  }
  async function exclusive<T>(task: () => Promise<T>): Promise<T> {
    while (writing !== undefined) await writing;
    let release = () => {};
    writing = new Promise<void>((resolve) => {
      release = resolve;
    });
    try {
      if (reads > 0) {
        await new Promise<void>((resolve) => {
          readsDone = resolve;
        });
      }
      readsDone = undefined;
      return await task();
    } finally {
      writing = undefined;
      release();
    }
  }

  function snapshot(): LedgerStats {
    let oldest = Number.POSITIVE_INFINITY;
    let retryingQuantity = 0;
    for (const delta of retrying?.deltas ?? []) {
      retryingQuantity += delta.quantity;
      if (delta.since < oldest) oldest = delta.since;
    }
    for (const delta of buffer.values()) if (delta.since < oldest) oldest = delta.since;
    const result: LedgerStats = {
      pending: buffer.size + (retrying?.deltas.length ?? 0),
      pendingQuantity: bufferQuantity + retryingQuantity,
      droppedRows: stats.droppedRows,
      droppedQuantity: stats.droppedQuantity,
      writtenRows: stats.writtenRows,
      batches: stats.batches,
      failures: stats.failures,
      degraded: stats.failing || stats.droppedSinceWrite,
      backlogMs: oldest === Number.POSITIVE_INFINITY ? 0 : Math.max(0, Date.now() - oldest),
    };
    if (stats.lastError !== undefined) result.lastError = stats.lastError;
    return result;
  }

  // The row each (counter, subject id) last added to: a busy subject usually adds to it again, found
  // with two lookups on strings we are handed instead of building the row's key.
  let recent = new Map<string, Map<string, Delta>>();

  function record(ref: CounterRef, quantity: number, at: number, plan?: string, category?: string) {
    if (quantity === 0 || !Number.isFinite(quantity)) return;
    let byId = recent.get(ref.counter);
    const last = byId?.get(ref.id);
    if (
      last !== undefined &&
      !last.taken &&
      at >= last.bucket &&
      at < last.bucketEnd &&
      last.category === (category ?? "") &&
      last.plan === (plan ?? "")
    ) {
      last.quantity += quantity;
      bufferQuantity += quantity;
      return;
    }
    if (byId === undefined) {
      byId = new Map();
      recent.set(ref.counter, byId);
    }
    const { limit } = ref;
    const subject = `${limit.per}:${ref.id}`;
    const period = periodOf(limit, at);
    const hour = Math.floor(at / HOUR_MS) * HOUR_MS;
    // A period starting inside the hour splits it, so a period's rows sum exactly to its usage.
    const bucket = Math.max(period.start, hour);
    const key = `${ref.counter}\u0000${subject}\u0000${bucket}\u0000${category ?? ""}\u0000${plan ?? ""}`;
    const found = buffer.get(key);
    if (found !== undefined) {
      found.quantity += quantity;
      bufferQuantity += quantity;
      byId.set(ref.id, found);
      return;
    }
    if (buffer.size + (retrying?.deltas.length ?? 0) >= maxPending) {
      stats.droppedRows++;
      stats.droppedQuantity += quantity;
      stats.droppedSinceWrite = true;
      return;
    }
    bufferQuantity += quantity;
    const delta: Delta = {
      subject,
      counter: ref.counter,
      limitName: limit.name,
      unit: limit.unit,
      category: category ?? "",
      plan: plan ?? "",
      bucket,
      bucketEnd: Math.min(hour + HOUR_MS, period.end),
      periodStart: period.start,
      periodEnd: period.end,
      quantity,
      since: Date.now(),
      taken: false,
    };
    buffer.set(key, delta);
    byId.set(ref.id, delta);
  }

  /** Moves up to `maxBatch` rows from the buffer into a new batch. */
  function takeBatch(): Batch {
    const deltas: Delta[] = [];
    if (buffer.size <= maxBatch) {
      for (const delta of buffer.values()) {
        delta.taken = true;
        deltas.push(delta);
      }
      buffer = new Map();
      recent = new Map();
      bufferQuantity = 0;
    } else {
      for (const [key, delta] of buffer) {
        if (deltas.length >= maxBatch) break;
        delta.taken = true;
        deltas.push(delta);
        buffer.delete(key);
        bufferQuantity -= delta.quantity;
      }
    }
    return { id: randomUUID(), deltas };
  }

  /** Per counter period, the sum of a batch's rows and the plan of its latest usage. */
  function periodRows(deltas: Delta[]) {
    const rows = new Map<string, { delta: Delta; quantity: number; latest: number }>();
    for (const delta of deltas) {
      const key = `${delta.counter}\u0000${delta.periodStart}\u0000${delta.subject}`;
      const row = rows.get(key);
      if (row === undefined) rows.set(key, { delta, quantity: delta.quantity, latest: delta.bucket });
      else {
        row.quantity += delta.quantity;
        if (delta.bucket >= row.latest && delta.plan !== "") {
          row.delta = delta;
          row.latest = delta.bucket;
        }
      }
    }
    return [...rows.values()];
  }

  async function writeBatch(batch: Batch) {
    await kysely.transaction().execute(async (trx) => {
      const claimed = await trx
        .insertInto("usage_batches")
        .values({ id: batch.id, deltas: batch.deltas.length })
        .onConflict((oc) => oc.column("id").doNothing())
        .returning("id")
        .executeTakeFirst();
      if (claimed === undefined) return; // applied by an attempt whose answer was lost
      // One statement per table whatever the batch size: columns travel as arrays (unnest), so
      // Postgres parses 8 parameters instead of 8 per row.
      const d = batch.deltas;
      await sql`
        insert into usage_hourly (subject, counter, bucket, category, plan, limit_name, unit, quantity)
        select s, c, to_timestamp(b::double precision / 1000), g, p, l, u, q
        from unnest(
          ${d.map((x) => x.subject)}::text[], ${d.map((x) => x.counter)}::text[], ${d.map((x) => x.bucket)}::bigint[],
          ${d.map((x) => x.category)}::text[], ${d.map((x) => x.plan)}::text[], ${d.map((x) => x.limitName)}::text[],
          ${d.map((x) => x.unit)}::text[], ${d.map((x) => x.quantity)}::bigint[]
        ) as t(s, c, b, g, p, l, u, q)
        on conflict (subject, counter, bucket, category, plan)
        do update set quantity = usage_hourly.quantity + excluded.quantity, updated_at = now()`.execute(trx);
      const periods = periodRows(d);
      await sql`
        insert into usage_periods (counter, period_start, subject, period_end, limit_name, unit, plan, quantity)
        select c, to_timestamp(ps::double precision / 1000), s, to_timestamp(pe::double precision / 1000), l, u, p, q
        from unnest(
          ${periods.map((x) => x.delta.counter)}::text[], ${periods.map((x) => x.delta.periodStart)}::bigint[],
          ${periods.map((x) => x.delta.subject)}::text[], ${periods.map((x) => x.delta.periodEnd)}::bigint[],
          ${periods.map((x) => x.delta.limitName)}::text[], ${periods.map((x) => x.delta.unit)}::text[],
          ${periods.map((x) => x.delta.plan)}::text[], ${periods.map((x) => x.quantity)}::bigint[]
        ) as t(c, ps, s, pe, l, u, p, q)
        on conflict (counter, period_start, subject)
        do update set quantity = usage_periods.quantity + excluded.quantity,
          plan = case when excluded.plan = '' then usage_periods.plan else excluded.plan end,
          updated_at = now()`.execute(trx);
    });
  }

  function withTimeout<T>(promise: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`ledger write did not finish within ${writeTimeoutMs} ms`)),
        writeTimeoutMs,
      );
      timer.unref?.();
      promise.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });
  }

  /** Writes one batch: the one being retried, else a new one from the buffer. False when idle. */
  async function writeOne(): Promise<boolean> {
    if (retrying === undefined) {
      if (buffer.size === 0) return false;
      retrying = takeBatch();
    }
    const batch = retrying;
    try {
      await withTimeout(writeBatch(batch));
    } catch (error) {
      stats.failures++;
      stats.lastError = error instanceof Error ? error.message : String(error);
      const first = !stats.failing;
      stats.failing = true;
      if (first || Date.now() - stats.lastReported >= 60_000) {
        stats.lastReported = Date.now();
        options.onError?.(error, snapshot());
      }
      throw error;
    }
    retrying = undefined;
    stats.batches++;
    stats.writtenRows += batch.deltas.length;
    stats.droppedSinceWrite = false;
    if (stats.failing) {
      stats.failing = false;
      stats.lastError = undefined;
      options.onRecover?.(snapshot());
    }
    return true;
  }

  async function applyRetention() {
    const at = now();
    if (at - lastRetention < HOUR_MS) return;
    lastRetention = at;
    const cutoff = new Date(at - retentionMs);
    await kysely.deleteFrom("usage_hourly").where("bucket", "<", cutoff).execute();
    await kysely.deleteFrom("usage_periods").where("period_end", "<", cutoff).execute();
    // A batch is only ever retried within minutes; a week of ids is ample.
    await kysely
      .deleteFrom("usage_batches")
      .where("applied_at", "<", new Date(at - 7 * DAY_MS))
      .execute();
  }

  /** Writes batches until the buffer is empty (a backlog drains in consecutive batches). */
  async function drain() {
    while (await writeOne()) {}
  }

  let ticking = false;
  async function tick() {
    if (ticking) return;
    ticking = true;
    try {
      await exclusive(drain);
      await applyRetention();
    } catch {
      // counted and reported in writeOne; retried at the next tick
    } finally {
      ticking = false;
    }
  }
  let timer: NodeJS.Timeout | undefined = setInterval(() => void tick(), flushIntervalMs);
  timer.unref();

  return {
    record,
    async usedBetween(counter, subject, from, to) {
      return shared(async () => {
        const row = await kysely
          .selectFrom("usage_periods")
          .select((eb) => eb.fn.sum<string>("quantity").as("used"))
          .where("counter", "=", counter)
          .where("subject", "=", subject)
          .where("period_start", ">=", new Date(from))
          .where("period_start", "<", new Date(to))
          .executeTakeFirst();
        let used = Number(row?.used ?? 0);
        // Usage recorded here but not yet written counts too (a flush of Redis while it waits).
        for (const delta of [...(retrying?.deltas ?? []), ...buffer.values()]) {
          if (delta.counter === counter && delta.subject === subject && delta.bucket >= from && delta.bucket < to) {
            used += delta.quantity;
          }
        }
        return used;
      });
    },
    flush: () => exclusive(drain),
    async close(timeoutMs = 10_000) {
      if (timer) clearInterval(timer);
      timer = undefined;
      const deadline = Date.now() + timeoutMs;
      while (buffer.size > 0 || retrying !== undefined) {
        try {
          await exclusive(drain);
        } catch (error) {
          if (Date.now() >= deadline) throw error;
          await new Promise((resolve) => setTimeout(resolve, Math.min(flushIntervalMs, 500)));
        }
      }
    },
    stats: snapshot,
  };
}
