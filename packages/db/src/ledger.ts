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
  /**
   * Rows per batch (one statement). Default 5,000: a statement stays far below the database's
   * statement timeout even on a busy server; a backlog drains in consecutive batches.
   */
  maxBatch?: number;
  /** Rollups (UTC days, UTC months, counter periods) older than this many days are deleted. Default 400. */
  retentionDays?: number;
  /**
   * Hourly rows older than this many days are deleted (hourly history and the partial days at the
   * edges of a report need them; whole days come from the rollups). Default 90, at most `retentionDays`.
   */
  hourlyRetentionDays?: number;
  /** How often old rows are deleted, in ms. Default 3,600,000 (hourly); the first sweep is one interval after start. */
  retentionIntervalMs?: number;
  /** A batch write slower than this counts as failed and is retried with the same id. Default 10,000 ms. */
  writeTimeoutMs?: number;
  /** Time for retention (a server passes its clock); default Date.now. */
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

/**
 * One aggregated row of the buffer: usage of one counter by one subject id in one hour (split at
 * the counter period's start), category and plan. The rows of a (counter, id) form a short chain,
 * newest first: the next usage of a busy subject nearly always lands in the head.
 */
interface Delta {
  counter: string;
  id: string;
  limit: Limit;
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
  next: Delta | undefined;
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
  /**
   * Deletes rows past their retention if the last sweep is `retentionIntervalMs` old (by `now`),
   * or at once with `force`. The flush timer calls it; resolves whether it ran.
   */
  sweep(force?: boolean): Promise<boolean>;
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
  const maxBatch = options.maxBatch ?? 5_000;
  const retentionMs = (options.retentionDays ?? 400) * DAY_MS;
  const hourlyRetentionMs = Math.min(options.hourlyRetentionDays ?? 90, options.retentionDays ?? 400) * DAY_MS;
  const retentionEveryMs = options.retentionIntervalMs ?? HOUR_MS;
  const writeTimeoutMs = options.writeTimeoutMs ?? 10_000;
  const now = options.now ?? Date.now;
  // counter -> subject id -> chain of rows. No string is built per decision: both keys are
  // strings the limiter hands us.
  let buffer = new Map<string, Map<string, Delta>>();
  let bufferRows = 0;
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
    for (const byId of buffer.values()) {
      for (const head of byId.values()) {
        for (let delta: Delta | undefined = head; delta !== undefined; delta = delta.next) {
          if (delta.since < oldest) oldest = delta.since;
        }
      }
    }
    const result: LedgerStats = {
      pending: bufferRows + (retrying?.deltas.length ?? 0),
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

  function record(ref: CounterRef, quantity: number, at: number, plan?: string, category?: string) {
    if (quantity === 0 || !Number.isFinite(quantity)) return;
    const planName = plan ?? "";
    const categoryName = category ?? "";
    let byId = buffer.get(ref.counter);
    if (byId === undefined) {
      byId = new Map();
      buffer.set(ref.counter, byId);
    }
    const head = byId.get(ref.id);
    for (let row = head; row !== undefined; row = row.next) {
      if (at >= row.bucket && at < row.bucketEnd && row.category === categoryName && row.plan === planName) {
        row.quantity += quantity;
        bufferQuantity += quantity;
        return;
      }
    }
    if (bufferRows + (retrying?.deltas.length ?? 0) >= maxPending) {
      stats.droppedRows++;
      stats.droppedQuantity += quantity;
      stats.droppedSinceWrite = true;
      return;
    }
    const { limit } = ref;
    const period = periodOf(limit, at);
    const hour = Math.floor(at / HOUR_MS) * HOUR_MS;
    // A period starting inside the hour splits it, so a period's rows sum exactly to its usage.
    const bucket = Math.max(period.start, hour);
    bufferRows++;
    bufferQuantity += quantity;
    byId.set(ref.id, {
      counter: ref.counter,
      id: ref.id,
      limit,
      category: categoryName,
      plan: planName,
      bucket,
      bucketEnd: Math.min(hour + HOUR_MS, period.end),
      periodStart: period.start,
      periodEnd: period.end,
      quantity,
      since: Date.now(),
      next: head,
    });
  }

  /**
   * Moves up to about `maxBatch` rows from the buffer into a new batch, a (counter, subject)
   * chain at a time: the rows of one subject's counter stay together.
   */
  function takeBatch(): Batch {
    const deltas: Delta[] = [];
    const taken = buffer;
    const takeAll = bufferRows <= maxBatch;
    if (takeAll) {
      buffer = new Map();
      bufferRows = 0;
      bufferQuantity = 0;
    }
    for (const [counter, byId] of taken) {
      for (const [id, head] of byId) {
        if (!takeAll && deltas.length >= maxBatch) break;
        for (let row: Delta | undefined = head; row !== undefined; row = row.next) {
          deltas.push(row);
          if (!takeAll) {
            bufferRows--;
            bufferQuantity -= row.quantity;
          }
        }
        if (!takeAll) byId.delete(id);
      }
      if (!takeAll && byId.size === 0) taken.delete(counter);
      if (!takeAll && deltas.length >= maxBatch) break;
    }
    return { id: randomUUID(), deltas };
  }

  /**
   * A batch's rows for each table, summed in JS so each insert touches a key at most once and
   * Postgres does no grouping: hourly rows as they are, then per UTC day, per limit and UTC month,
   * and per quota period (the periods restore quotas and find subjects near them; other limits
   * have none). A (counter, subject) chain is contiguous in a batch, so days and periods are
   * summed within it; a month sums a subject's counters of the same limit name.
   */
  function tableRows(deltas: readonly Delta[]) {
    const n = deltas.length;
    const hourly = {
      subject: new Array<string>(n),
      counter: new Array<string>(n),
      bucket: new Array<number>(n),
      category: new Array<string>(n),
      plan: new Array<string>(n),
      limit: new Array<string>(n),
      unit: new Array<string>(n),
      quantity: new Array<number>(n),
    };
    const days: { day: number; subject: string; delta: Delta; quantity: number }[] = [];
    const periods: { subject: string; delta: Delta; quantity: number; plan: string; latest: number }[] = [];
    const months = new Map<
      string,
      { month: number; subject: string; delta: Delta; quantity: number; plan: string; latest: number }
    >();
    let chainDays = 0;
    let chainPeriods = 0;
    for (let i = 0; i < n; i++) {
      const x = deltas[i] as Delta;
      const previous = deltas[i - 1];
      if (previous === undefined || previous.counter !== x.counter || previous.id !== x.id) {
        chainDays = days.length;
        chainPeriods = periods.length;
      }
      const subject = `${x.limit.per}:${x.id}`;
      hourly.subject[i] = subject;
      hourly.counter[i] = x.counter;
      hourly.bucket[i] = x.bucket;
      hourly.category[i] = x.category;
      hourly.plan[i] = x.plan;
      hourly.limit[i] = x.limit.name;
      hourly.unit[i] = x.limit.unit;
      hourly.quantity[i] = x.quantity;
      const day = Math.floor(x.bucket / DAY_MS) * DAY_MS;
      let dayRow: (typeof days)[number] | undefined;
      for (let j = chainDays; j < days.length && dayRow === undefined; j++) {
        const row = days[j] as (typeof days)[number];
        if (row.day === day && row.delta.category === x.category && row.delta.plan === x.plan) dayRow = row;
      }
      if (dayRow === undefined) days.push({ day, subject, delta: x, quantity: x.quantity });
      else dayRow.quantity += x.quantity;
      if (x.limit.algorithm === "quota") {
        let periodRow: (typeof periods)[number] | undefined;
        for (let j = chainPeriods; j < periods.length && periodRow === undefined; j++) {
          const row = periods[j] as (typeof periods)[number];
          if (row.delta.periodStart === x.periodStart) periodRow = row;
        }
        if (periodRow === undefined)
          periods.push({ subject, delta: x, quantity: x.quantity, plan: x.plan, latest: x.bucket });
        else {
          periodRow.quantity += x.quantity;
          if (x.plan !== "" && (periodRow.plan === "" || x.bucket >= periodRow.latest)) {
            periodRow.plan = x.plan;
            periodRow.latest = x.bucket;
          }
        }
      }
      const bucketDate = new Date(x.bucket);
      const month = Date.UTC(bucketDate.getUTCFullYear(), bucketDate.getUTCMonth(), 1);
      const monthKey = `${x.limit.name}\u0000${month}\u0000${subject}\u0000${x.limit.unit}`;
      const monthRow = months.get(monthKey);
      if (monthRow === undefined) {
        months.set(monthKey, { month, subject, delta: x, quantity: x.quantity, plan: x.plan, latest: x.bucket });
      } else {
        monthRow.quantity += x.quantity;
        if (x.plan !== "" && (monthRow.plan === "" || x.bucket >= monthRow.latest)) {
          monthRow.plan = x.plan;
          monthRow.latest = x.bucket;
        }
      }
    }
    const monthRows = [...months.values()];
    return {
      hourly,
      daily: {
        day: days.map((r) => r.day),
        subject: days.map((r) => r.subject),
        limit: days.map((r) => r.delta.limit.name),
        unit: days.map((r) => r.delta.limit.unit),
        category: days.map((r) => r.delta.category),
        plan: days.map((r) => r.delta.plan),
        counter: days.map((r) => r.delta.counter),
        quantity: days.map((r) => r.quantity),
      },
      monthly: {
        limit: monthRows.map((r) => r.delta.limit.name),
        month: monthRows.map((r) => r.month),
        subject: monthRows.map((r) => r.subject),
        unit: monthRows.map((r) => r.delta.limit.unit),
        plan: monthRows.map((r) => r.plan),
        quantity: monthRows.map((r) => r.quantity),
      },
      periods: {
        counter: periods.map((r) => r.delta.counter),
        start: periods.map((r) => r.delta.periodStart),
        subject: periods.map((r) => r.subject),
        end: periods.map((r) => r.delta.periodEnd),
        limit: periods.map((r) => r.delta.limit.name),
        unit: periods.map((r) => r.delta.limit.unit),
        plan: periods.map((r) => r.plan),
        quantity: periods.map((r) => r.quantity),
      },
    };
  }

  /**
   * One statement applies a batch to every table: the batch id is claimed first and the upserts
   * only run when the claim is new, so a batch retried after a lost answer is never counted twice.
   * Columns travel as arrays (`unnest`): a batch of any size is one statement with a fixed number
   * of parameters and one round trip. The rollups (UTC day, UTC month, quota period) are written
   * by the same statement as the hourly rows, so they always equal their sums.
   */
  async function writeBatch(batch: Batch): Promise<void> {
    const { hourly: h, daily: d, monthly: m, periods: p } = tableRows(batch.deltas);
    // Milliseconds to timestamptz, exactly (to_timestamp takes seconds).
    const at = (column: string) => sql.raw(`to_timestamp(${column}::double precision / 1000)`);
    const claimed = sql`exists (select 1 from claimed)`;
    await sql`
      with claimed as (
        insert into usage_batches (id, deltas) values (${batch.id}, ${batch.deltas.length})
        on conflict (id) do nothing returning id
      ),
      hourly as (
        insert into usage_hourly (subject, counter, bucket, category, plan, limit_name, unit, quantity)
        select s, c, ${at("b")}, g, p, l, u, q
        from unnest(
          ${h.subject}::text[], ${h.counter}::text[], ${h.bucket}::bigint[], ${h.category}::text[],
          ${h.plan}::text[], ${h.limit}::text[], ${h.unit}::text[], ${h.quantity}::bigint[]
        ) as t(s, c, b, g, p, l, u, q)
        where ${claimed}
        on conflict (subject, counter, bucket, category, plan)
        do update set quantity = usage_hourly.quantity + excluded.quantity, updated_at = now()
      ),
      daily as (
        insert into usage_daily (day, subject, limit_name, unit, category, plan, counter, quantity)
        select ${at("dy")}, s, l, u, g, p, c, q
        from unnest(
          ${d.day}::bigint[], ${d.subject}::text[], ${d.limit}::text[], ${d.unit}::text[], ${d.category}::text[],
          ${d.plan}::text[], ${d.counter}::text[], ${d.quantity}::bigint[]
        ) as t(dy, s, l, u, g, p, c, q)
        where ${claimed}
        on conflict (day, subject, limit_name, unit, category, plan, counter)
        do update set quantity = usage_daily.quantity + excluded.quantity, updated_at = now()
      ),
      monthly as (
        insert into usage_monthly (limit_name, month, subject, unit, plan, quantity)
        select l, ${at("mo")}, s, u, p, q
        from unnest(
          ${m.limit}::text[], ${m.month}::bigint[], ${m.subject}::text[], ${m.unit}::text[], ${m.plan}::text[],
          ${m.quantity}::bigint[]
        ) as t(l, mo, s, u, p, q)
        where ${claimed}
        on conflict (limit_name, month, subject, unit)
        do update set quantity = usage_monthly.quantity + excluded.quantity,
          plan = case when excluded.plan = '' then usage_monthly.plan else excluded.plan end, updated_at = now()
      ),
      periods as (
        insert into usage_periods (counter, period_start, subject, period_end, limit_name, unit, plan, quantity)
        select c, ${at("ps")}, s, ${at("pe")}, l, u, p, q
        from unnest(
          ${p.counter}::text[], ${p.start}::bigint[], ${p.subject}::text[], ${p.end}::bigint[], ${p.limit}::text[],
          ${p.unit}::text[], ${p.plan}::text[], ${p.quantity}::bigint[]
        ) as t(c, ps, s, pe, l, u, p, q)
        where ${claimed}
        on conflict (counter, period_start, subject)
        do update set quantity = usage_periods.quantity + excluded.quantity,
          plan = case when excluded.plan = '' then usage_periods.plan else excluded.plan end, updated_at = now()
      )
      select count(*) from claimed`.execute(kysely);
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
      if (bufferRows === 0) return false;
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

  /**
   * Deletes hourly rows older than `hourlyRetentionDays` and rollups (days, months, periods)
   * older than `retentionDays`, at most once an hour. Returns whether it ran.
   */
  async function applyRetention(force = false): Promise<boolean> {
    const at = now();
    if (!force && at - lastRetention < retentionEveryMs) return false;
    lastRetention = at;
    const hourlyCutoff = new Date(at - hourlyRetentionMs);
    const cutoff = new Date(at - retentionMs);
    await kysely.deleteFrom("usage_hourly").where("bucket", "<", hourlyCutoff).execute();
    await kysely.deleteFrom("usage_daily").where("day", "<", cutoff).execute();
    // A month goes once all of it is past the cutoff.
    await kysely.deleteFrom("usage_monthly").where(sql<Date>`month + interval '1 month'`, "<=", cutoff).execute();
    await kysely.deleteFrom("usage_periods").where("period_end", "<=", cutoff).execute();
    // A batch is only ever retried within minutes; a week of ids is ample.
    await kysely
      .deleteFrom("usage_batches")
      .where("applied_at", "<", new Date(at - 7 * DAY_MS))
      .execute();
    return true;
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
        const inRange = (delta: Delta) =>
          delta.counter === counter &&
          `${delta.limit.per}:${delta.id}` === subject &&
          delta.bucket >= from &&
          delta.bucket < to;
        for (const delta of retrying?.deltas ?? []) if (inRange(delta)) used += delta.quantity;
        const byId = buffer.get(counter);
        const per = byId?.values().next().value?.limit.per;
        if (byId !== undefined && per !== undefined && subject.startsWith(`${per}:`)) {
          const head = byId.get(subject.slice(per.length + 1));
          for (let delta: Delta | undefined = head; delta !== undefined; delta = delta.next) {
            if (inRange(delta)) used += delta.quantity;
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
      while (bufferRows > 0 || retrying !== undefined) {
        try {
          await exclusive(drain);
        } catch (error) {
          if (Date.now() >= deadline) throw error;
          await new Promise((resolve) => setTimeout(resolve, Math.min(flushIntervalMs, 500)));
        }
      }
    },
    stats: snapshot,
    sweep: (force = false) => applyRetention(force),
  };
}
