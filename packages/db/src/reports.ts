import { createHash } from "node:crypto";
import { type Kysely, sql } from "kysely";
import type { Database } from "./schema.js";

/** One point of a subject's usage series. */
export interface HistoryPoint {
  /** Start of the hour or day (ISO, UTC). */
  start: string;
  limit: string;
  category: string;
  used: number;
}

export interface TopEntry {
  subject: string;
  limit: string;
  unit: string;
  /** Plan of the subject's latest usage in the range. */
  plan: string;
  used: number;
}

export interface NearLimitQuery {
  counter: string;
  /** Start of the counter period to look at (the quota's current period). */
  periodStart: number;
  /** Usage at or above which a subject is reported. */
  threshold: number;
  /** Only subjects whose latest usage was on this plan (a plan limit); absent for the others. */
  plan?: string;
}

export interface NearLimitEntry {
  subject: string;
  counter: string;
  limit: string;
  unit: string;
  plan: string;
  used: number;
}

export interface SummaryEntry {
  plan: string;
  limit: string;
  unit: string;
  used: number;
  subjects: number;
  previousUsed: number;
  previousSubjects: number;
  /** (used - previousUsed) / previousUsed; null when the previous period had none. */
  growth: number | null;
}

/** One export row: a subject's usage of one limit, category and plan on one UTC day. */
export interface ExportRow {
  /** Stable across exports of the same row: a billing system deduplicates on it. */
  id: string;
  subject: string;
  limit: string;
  category: string;
  plan: string;
  unit: string;
  /** The day, `YYYY-MM-DD` (UTC). */
  day: string;
  quantity: number;
}

const iso = (value: Date | string) => (value instanceof Date ? value : new Date(value)).toISOString();

/** Stable id of an export row: the same subject, limit, category, plan, unit and day give the same id. */
export function exportRowId(row: Omit<ExportRow, "id" | "quantity">): string {
  return createHash("sha256")
    .update([row.subject, row.limit, row.category, row.plan, row.unit, row.day].join("\u0000"))
    .digest("hex")
    .slice(0, 32);
}

const DAY = 86_400_000;
const floorDay = (t: number) => Math.floor(t / DAY) * DAY;
const ceilDay = (t: number) => Math.ceil(t / DAY) * DAY;
const monthStartOf = (t: number) => {
  const d = new Date(t);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
};
const ceilMonth = (t: number) => {
  const start = monthStartOf(t);
  if (start === t) return t;
  const d = new Date(t);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
};

/**
 * A range cut into the coarsest rows that cover it exactly: whole UTC months (monthly rollup),
 * whole UTC days (daily rollup) and the hours at the edges (hourly rows). Every rollup row is the
 * sum of the hourly rows whose bucket falls in its day or month, so the pieces add up to what the
 * hourly rows alone would give.
 */
export interface RangePieces {
  months: [number, number][];
  days: [number, number][];
  hours: [number, number][];
}

export function splitRange(from: number, to: number, useMonths = true): RangePieces {
  const pieces: RangePieces = { months: [], days: [], hours: [] };
  if (from >= to) return pieces;
  const dayFrom = ceilDay(from);
  const dayTo = floorDay(to);
  if (dayFrom >= dayTo) {
    pieces.hours.push([from, to]);
    return pieces;
  }
  if (from < dayFrom) pieces.hours.push([from, dayFrom]);
  if (dayTo < to) pieces.hours.push([dayTo, to]);
  const monthFrom = ceilMonth(dayFrom);
  const monthTo = monthStartOf(dayTo);
  if (!useMonths || monthFrom >= monthTo) {
    pieces.days.push([dayFrom, dayTo]);
    return pieces;
  }
  if (dayFrom < monthFrom) pieces.days.push([dayFrom, monthFrom]);
  if (monthTo < dayTo) pieces.days.push([monthTo, dayTo]);
  pieces.months.push([monthFrom, monthTo]);
  return pieces;
}

/** `column` in any of the ranges (SQL). */
function inRanges(column: string, ranges: [number, number][]) {
  return sql.join(
    ranges.map(([a, b]) => sql`(${sql.ref(column)} >= ${new Date(a)} and ${sql.ref(column)} < ${new Date(b)})`),
    sql` or `,
  );
}

/** One row of an export cursor: the key of the last row sent. */
type ExportCursor = [Date, string, string, string, string, string];

/** The latest non-empty plan of a group (usage without a plan keeps the one recorded before). */
const latestPlan = sql<string>`coalesce((array_agg(plan order by at desc) filter (where plan <> ''))[1], '')`;

/**
 * Read-side queries of the usage ledger. Reports read the coarsest rows that cover their range:
 * whole UTC months from `usage_monthly`, whole UTC days from `usage_daily`, the edges from
 * `usage_hourly`; all are written by the same statement, so the results equal a recount of the
 * hourly rows. Indexes: `usage_hourly` (subject, counter, bucket) and (bucket); `usage_daily`
 * (day, subject, ...) and (subject, day); `usage_monthly` (limit_name, month, quantity) and
 * (month); `usage_periods` (counter, period_start, quantity) and (limit_name, period_start, quantity).
 */
export class LedgerReports {
  constructor(private readonly kysely: Kysely<Database>) {}

  /** A subject's usage per hour or per UTC day in [from, to), per limit and category. */
  async history(
    subject: string,
    granularity: "hour" | "day",
    from: number,
    to: number,
    limit?: string,
  ): Promise<HistoryPoint[]> {
    const pieces: RangePieces =
      granularity === "day" ? splitRange(from, to, false) : { months: [], days: [], hours: [[from, to]] };
    const parts = [];
    const onLimit = limit === undefined ? sql`` : sql`and limit_name = ${limit}`;
    if (pieces.days.length > 0) {
      parts.push(sql`
        select day as start, limit_name, category, quantity from usage_daily
        where subject = ${subject} and (${inRanges("day", pieces.days)}) ${onLimit}`);
    }
    if (pieces.hours.length > 0) {
      parts.push(sql`
        select date_trunc(${sql.lit(granularity)}, bucket, 'UTC') as start, limit_name, category, quantity
        from usage_hourly where subject = ${subject} and (${inRanges("bucket", pieces.hours)}) ${onLimit}`);
    }
    if (parts.length === 0) return [];
    const { rows } = await sql<{ start: Date; limit_name: string; category: string; used: string }>`
      select start, limit_name, category, sum(quantity) as used
      from (${sql.join(parts, sql` union all `)}) as pieces
      group by start, limit_name, category
      order by start, limit_name, category`.execute(this.kysely);
    return rows.map((row) => ({
      start: iso(row.start),
      limit: row.limit_name,
      category: row.category,
      used: Number(row.used),
    }));
  }

  /** Per subject and unit (of one limit, or of every limit), usage in [from, to) from the coarsest rows. */
  private perSubject(from: number, to: number, limit?: string) {
    const pieces = splitRange(from, to);
    const onLimit = limit === undefined ? sql`` : sql`limit_name = ${limit} and`;
    const parts = [];
    if (pieces.months.length > 0) {
      parts.push(sql`
        select subject, limit_name, unit, plan, quantity, month as at from usage_monthly
        where ${onLimit} (${inRanges("month", pieces.months)})`);
    }
    if (pieces.days.length > 0) {
      parts.push(sql`
        select subject, limit_name, unit, plan, quantity, day as at from usage_daily
        where ${onLimit} (${inRanges("day", pieces.days)})`);
    }
    if (pieces.hours.length > 0) {
      parts.push(sql`
        select subject, limit_name, unit, plan, quantity, bucket as at from usage_hourly
        where ${onLimit} (${inRanges("bucket", pieces.hours)})`);
    }
    if (parts.length === 0) return undefined;
    return sql`
      select subject, limit_name, unit, sum(quantity) as used, ${latestPlan} as plan
      from (${sql.join(parts, sql` union all `)}) as pieces
      group by subject, limit_name, unit`;
  }

  /** The first `n` rows of a ranked rollup (quota periods or UTC months) starting at `start`. */
  private async ranked(
    table: "usage_periods" | "usage_monthly",
    startColumn: "period_start" | "month",
    limit: string,
    start: number,
    n: number,
  ): Promise<TopEntry[]> {
    const { rows } = await sql<{ subject: string; unit: string; plan: string; quantity: string }>`
      select subject, unit, plan, quantity from ${sql.table(table)}
      where limit_name = ${limit} and ${sql.ref(startColumn)} = ${new Date(start)}
      order by quantity desc, subject limit ${n}`.execute(this.kysely);
    return rows.map((row) => topEntry(limit, row));
  }

  /**
   * The `n` subjects that used `limit` most in [from, to) (usage counted by its hour), heaviest
   * first. A range of one UTC month reads the first rows of the monthly rollup's index. When the
   * range is exactly one period of a quota in its own zone, `onePeriod` reads the top rows of the
   * periods' index instead.
   */
  async top(limit: string, from: number, to: number, n: number, onePeriod = false): Promise<TopEntry[]> {
    if (onePeriod) {
      return this.ranked("usage_periods", "period_start", limit, from, n);
    }
    const pieces = splitRange(from, to);
    const [month] = pieces.months;
    if (
      pieces.days.length === 0 &&
      pieces.hours.length === 0 &&
      month !== undefined &&
      month[1] === ceilMonth(month[0] + 1)
    ) {
      return this.ranked("usage_monthly", "month", limit, from, n);
    }
    const perSubject = this.perSubject(from, to, limit);
    if (perSubject === undefined) return [];
    const { rows } = await sql<{ subject: string; unit: string; plan: string; used: string }>`
      select subject, unit, plan, used from (${perSubject}) as totals
      order by used desc, subject limit ${n}`.execute(this.kysely);
    return rows.map((row) => ({ subject: row.subject, limit, unit: row.unit, plan: row.plan, used: Number(row.used) }));
  }
  /** Subjects at or above each query's threshold in its period, fullest first. */
  async nearLimit(queries: readonly NearLimitQuery[], max = 1000): Promise<NearLimitEntry[]> {
    const found: NearLimitEntry[] = [];
    for (const q of queries) {
      let query = this.kysely
        .selectFrom("usage_periods")
        .select(["subject", "counter", "limit_name", "unit", "plan", "quantity"])
        .where("counter", "=", q.counter)
        .where("period_start", "=", new Date(q.periodStart))
        .where("quantity", ">=", String(Math.max(1, Math.ceil(q.threshold))));
      if (q.plan !== undefined) query = query.where("plan", "=", q.plan);
      const rows = await query.orderBy("quantity", "desc").limit(max).execute();
      for (const row of rows) {
        found.push({
          subject: row.subject,
          counter: row.counter,
          limit: row.limit_name,
          unit: row.unit,
          plan: row.plan,
          used: Number(row.quantity),
        });
      }
    }
    return found.sort((a, b) => b.used - a.used).slice(0, max);
  }

  /**
   * Usage per plan, limit and unit in [from, to) (usage counted by its hour) and in the range
   * before it, with the number of subjects. A subject's usage of a limit counts under the plan of
   * its latest usage in the range. A range of one UTC month reads only that month's rollup rows.
   */
  async summary(from: number, to: number, previousFrom: number): Promise<SummaryEntry[]> {
    type Total = { plan: string; limit_name: string; unit: string; used: string; subjects: string };
    const totals = async (start: number, end: number): Promise<Total[]> => {
      const pieces = splitRange(start, end);
      const [month] = pieces.months;
      if (
        pieces.days.length === 0 &&
        pieces.hours.length === 0 &&
        month !== undefined &&
        month[1] === ceilMonth(month[0] + 1)
      ) {
        const { rows } = await sql<Total>`
          select plan, limit_name, unit, sum(quantity) as used, count(*) as subjects
          from usage_monthly where month = ${new Date(start)} group by plan, limit_name, unit`.execute(this.kysely);
        return rows;
      }
      const perSubject = this.perSubject(start, end);
      if (perSubject === undefined) return [];
      const { rows } = await sql<Total>`
        select plan, limit_name, unit, sum(used) as used, count(*) as subjects
        from (${perSubject}) as totals group by plan, limit_name, unit`.execute(this.kysely);
      return rows;
    };
    const [current, previous] = await Promise.all([totals(from, to), totals(previousFrom, from)]);
    const key = (r: { plan: string; limit_name: string; unit: string }) =>
      `${r.plan}\u0000${r.limit_name}\u0000${r.unit}`;
    const before = new Map(previous.map((r) => [key(r), r]));
    const entries: SummaryEntry[] = current.map((r) => {
      const p = before.get(key(r));
      before.delete(key(r));
      const used = Number(r.used);
      const previousUsed = Number(p?.used ?? 0);
      return {
        plan: r.plan,
        limit: r.limit_name,
        unit: r.unit,
        used,
        subjects: Number(r.subjects),
        previousUsed,
        previousSubjects: Number(p?.subjects ?? 0),
        growth: previousUsed > 0 ? (used - previousUsed) / previousUsed : null,
      };
    });
    for (const p of before.values()) {
      entries.push({
        plan: p.plan,
        limit: p.limit_name,
        unit: p.unit,
        used: 0,
        subjects: 0,
        previousUsed: Number(p.used),
        previousSubjects: Number(p.subjects),
        growth: -1,
      });
    }
    return entries.sort((a, b) => a.plan.localeCompare(b.plan) || a.limit.localeCompare(b.limit));
  }

  /**
   * Usage per subject, limit, unit, category, plan and UTC day in [from, to) (whole UTC days), in
   * a stable order, read `pageSize` rows at a time with a cursor (the key of the last row): an
   * export of any size holds one page in memory, and a page is one index range of the daily rollup.
   */
  async *exportRows(from: number, to: number, pageSize = 5000): AsyncGenerator<ExportRow> {
    if (from % DAY !== 0 || to % DAY !== 0) {
      throw new RangeError("export: from and to must be UTC midnights (rows are whole UTC days)");
    }
    let cursor: ExportCursor | undefined;
    for (;;) {
      const after =
        cursor === undefined
          ? sql``
          : sql`and (day, subject, limit_name, unit, category, plan) > (${cursor[0]}, ${cursor[1]}, ${cursor[2]}, ${cursor[3]}, ${cursor[4]}, ${cursor[5]})`;
      const { rows } = await sql<{
        day: Date;
        subject: string;
        limit_name: string;
        unit: string;
        category: string;
        plan: string;
        quantity: string;
      }>`
        select day, subject, limit_name, unit, category, plan, sum(quantity) as quantity
        from usage_daily
        where day >= ${new Date(from)} and day < ${new Date(to)} ${after}
        group by day, subject, limit_name, unit, category, plan
        order by day, subject, limit_name, unit, category, plan
        limit ${pageSize}`.execute(this.kysely);
      for (const row of rows) {
        const base = {
          subject: row.subject,
          limit: row.limit_name,
          category: row.category,
          plan: row.plan,
          unit: row.unit,
          day: iso(row.day).slice(0, 10),
        };
        yield { id: exportRowId(base), ...base, quantity: Number(row.quantity) };
      }
      const last = rows.at(-1);
      if (last === undefined || rows.length < pageSize) return;
      cursor = [new Date(last.day), last.subject, last.limit_name, last.unit, last.category, last.plan];
    }
  }

  /** The whole export in memory (small ranges, tests): `exportRows` collected. */
  async export(from: number, to: number, pageSize?: number): Promise<ExportRow[]> {
    const rows: ExportRow[] = [];
    for await (const row of this.exportRows(from, to, pageSize)) rows.push(row);
    return rows;
  }
}

/** A ranked row of a rollup (periods or months) as a top-consumers entry. */
function topEntry(limit: string, row: { subject: string; unit: string; plan: string; quantity: unknown }): TopEntry {
  return { subject: row.subject, limit, unit: row.unit, plan: row.plan, used: Number(row.quantity) };
}
