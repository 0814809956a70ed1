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

/**
 * Read-side queries of the usage ledger. Every query is served by an index: `usage_hourly` by
 * (subject, counter, bucket) and (bucket), `usage_periods` by (counter, period_start, quantity)
 * and (limit_name, period_start, quantity).
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
    let query = this.kysely
      .selectFrom("usage_hourly")
      .select([
        sql<Date>`date_trunc(${sql.lit(granularity)}, bucket, 'UTC')`.as("start"),
        "limit_name",
        "category",
        (eb) => eb.fn.sum<string>("quantity").as("used"),
      ])
      .where("subject", "=", subject)
      .where("bucket", ">=", new Date(from))
      .where("bucket", "<", new Date(to));
    if (limit !== undefined) query = query.where("limit_name", "=", limit);
    const rows = await query
      .groupBy(["start", "limit_name", "category"])
      .orderBy("start")
      .orderBy("limit_name")
      .execute();
    return rows.map((row) => ({
      start: iso(row.start),
      limit: row.limit_name,
      category: row.category,
      used: Number(row.used),
    }));
  }

  /**
   * The `n` subjects that used `limit` most in counter periods starting in [from, to). When the
   * range is exactly one period of the limit (a monthly quota's month, in its zone; a UTC month
   * for other limits), `onePeriod` reads the top rows straight off the (limit_name,
   * period_start, quantity) index instead of summing every subject's periods.
   */
  async top(limit: string, from: number, to: number, n: number, onePeriod = false): Promise<TopEntry[]> {
    if (onePeriod) {
      const rows = await this.kysely
        .selectFrom("usage_periods")
        .select(["subject", "unit", "plan", "quantity"])
        .where("limit_name", "=", limit)
        .where("period_start", "=", new Date(from))
        .orderBy("quantity", "desc")
        .orderBy("subject")
        .limit(n)
        .execute();
      return rows.map((row) => ({
        subject: row.subject,
        limit,
        unit: row.unit,
        plan: row.plan,
        used: Number(row.quantity),
      }));
    }
    const rows = await this.kysely
      .selectFrom("usage_periods")
      .select([
        "subject",
        "unit",
        (eb) => eb.fn.sum<string>("quantity").as("used"),
        (eb) => eb.fn.max("plan").as("plan"),
      ])
      .where("limit_name", "=", limit)
      .where("period_start", ">=", new Date(from))
      .where("period_start", "<", new Date(to))
      .groupBy(["subject", "unit"])
      .orderBy("used", "desc")
      .orderBy("subject")
      .limit(n)
      .execute();
    return rows.map((row) => ({
      subject: row.subject,
      limit,
      unit: row.unit,
      plan: row.plan,
      used: Number(row.used),
    }));
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
   * Usage per plan, limit and unit for counter periods whose middle falls in [from, to), and in
   * the range before it: a monthly quota in Europe/Paris starts an hour before the UTC month but
   * belongs to it.
   */
  async summary(from: number, to: number, previousFrom: number): Promise<SummaryEntry[]> {
    const totals = (start: number, end: number) =>
      this.kysely
        .selectFrom("usage_periods")
        .select([
          "plan",
          "limit_name",
          "unit",
          (eb) => eb.fn.sum<string>("quantity").as("used"),
          (eb) => eb.fn.count<string>("subject").distinct().as("subjects"),
        ])
        .where("period_end", ">", new Date(start))
        .where("period_start", "<", new Date(end))
        .where(sql<Date>`period_start + (period_end - period_start) / 2`, ">=", new Date(start))
        .where(sql<Date>`period_start + (period_end - period_start) / 2`, "<", new Date(end))
        .groupBy(["plan", "limit_name", "unit"])
        .execute();
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

  /** Usage per subject, limit, category, plan, unit and UTC day in [from, to), in a stable order. */
  async export(from: number, to: number): Promise<ExportRow[]> {
    const rows = await this.kysely
      .selectFrom("usage_hourly")
      .select([
        "subject",
        "limit_name",
        "category",
        "plan",
        "unit",
        sql<string>`to_char(date_trunc('day', bucket, 'UTC'), 'YYYY-MM-DD')`.as("day"),
        (eb) => eb.fn.sum<string>("quantity").as("quantity"),
      ])
      .where("bucket", ">=", new Date(from))
      .where("bucket", "<", new Date(to))
      .groupBy(["subject", "limit_name", "category", "plan", "unit", "day"])
      .orderBy("day")
      .orderBy("subject")
      .orderBy("limit_name")
      .orderBy("category")
      .orderBy("plan")
      .execute();
    return rows.map((row) => {
      const base = {
        subject: row.subject,
        limit: row.limit_name,
        category: row.category,
        plan: row.plan,
        unit: row.unit,
        day: row.day,
      };
      return { id: exportRowId(base), ...base, quantity: Number(row.quantity) };
    });
  }
}
