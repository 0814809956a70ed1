import { type CompiledLimit, type Limit, periodBounds } from "@tollgate/core";
import type { ExportRow, NearLimitQuery } from "@tollgate/db";
import { z } from "zod";
import type { ServerContext } from "../../context.js";
import { problem, sendProblem } from "../../problem.js";
import { errors } from "../../schemas.js";
import type { App } from "../types.js";
import { atLeast, security } from "./common.js";
import { subjectRef } from "./counters.js";

const HOUR = 3_600_000;
const DAY = 86_400_000;
const month = z
  .string()
  .regex(/^\d{4}-(0[1-9]|1[0-2])$/, "a month such as 2026-11")
  .optional();
const zone = z
  .string()
  .max(64)
  .refine((tz) => {
    try {
      new Intl.DateTimeFormat("en", { timeZone: tz });
      return true;
    } catch {
      return false;
    }
  }, "an IANA time zone such as UTC or Europe/Paris")
  .optional();
const isoTime = z.iso.datetime({ offset: true }).optional();

/** The calendar month `YYYY-MM` (default: the one holding `now`) in `timeZone`, and the month before it. */
function monthRange(period: string | undefined, timeZone: string, now: number) {
  const [year, monthNumber] = (period ?? "").split("-").map(Number);
  const inside = period === undefined ? now : Date.UTC(year as number, (monthNumber as number) - 1, 15);
  const { start, end } = periodBounds(inside, "month", timeZone);
  const previous = periodBounds(start - 1, "month", timeZone);
  const label = period ?? new Date(start + 15 * DAY).toISOString().slice(0, 7);
  return { label, from: start, to: end, previousFrom: previous.start };
}

/** Every configured limit, with the plan it belongs to (undefined for top-level and category limits). */
function allLimits(ctx: ServerContext): { compiled: CompiledLimit; plan?: string }[] {
  const config = ctx.limiter.config;
  const found: { compiled: CompiledLimit; plan?: string }[] = config.global.map((compiled) => ({ compiled }));
  for (const [plan, list] of config.plans) {
    // Per-key override plans (key.<id>) are recorded under the key's own plan name.
    if (plan.startsWith("key.")) continue;
    for (const compiled of list) found.push({ compiled, plan });
  }
  for (const list of config.categories.values()) for (const compiled of list) found.push({ compiled });
  return found;
}

/** The limit `top` ranks by when none is named: the first monthly quota, else the first limit. */
function defaultLimit(ctx: ServerContext): Limit | undefined {
  const limits = allLimits(ctx).map((l) => l.compiled.limit);
  return limits.find((l) => l.algorithm === "quota" && l.period === "month") ?? limits[0];
}

const csvField = (value: string | number) => {
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
};

function toCsv(rows: ExportRow[]): string {
  const header = "id,subject,limit,category,plan,unit,day,quantity";
  const lines = rows.map((r) =>
    [r.id, r.subject, r.limit, r.category, r.plan, r.unit, r.day, r.quantity].map(csvField).join(","),
  );
  return `${[header, ...lines].join("\r\n")}\r\n`;
}

/** CloudEvents 1.0, one JSON object per line: `id` is stable per row, so ingesting twice bills once. */
function toCloudEvents(rows: ExportRow[]): string {
  return rows
    .map((r) =>
      JSON.stringify({
        specversion: "1.0",
        id: r.id,
        source: "/tollgate/usage",
        type: "dev.tollgate.usage",
        subject: r.subject,
        time: `${r.day}T00:00:00Z`,
        datacontenttype: "application/json",
        data: { limit: r.limit, category: r.category, plan: r.plan, unit: r.unit, quantity: r.quantity },
      }),
    )
    .map((line) => `${line}\n`)
    .join("");
}

const topEntry = z.object({
  subject: z.string(),
  limit: z.string(),
  unit: z.string(),
  plan: z.string(),
  used: z.number(),
});

/**
 * Usage reports from the ledger (readonly and up): history, top consumers, subjects near their
 * limit, totals by plan, exports. All are SQL queries on indexed tables: they scale with the
 * rows asked for, not with the number of keys.
 */
export function reportRoutes(app: App, ctx: ServerContext) {
  const reports = ctx.ledger.reports;

  app.get(
    "/v1/admin/usage/history",
    {
      preHandler: atLeast(ctx, "readonly"),
      schema: {
        tags: ["admin"],
        summary: "A subject's usage per hour or day, per limit and category (default: the last 30 days, daily)",
        security,
        querystring: z.strictObject({
          subject: subjectRef,
          granularity: z.enum(["hour", "day"]).default("day"),
          from: isoTime,
          to: isoTime,
          limit: z.string().min(1).max(64).optional(),
        }),
        response: {
          200: z.object({
            subject: z.string(),
            granularity: z.enum(["hour", "day"]),
            from: z.string(),
            to: z.string(),
            points: z.array(z.object({ start: z.string(), limit: z.string(), category: z.string(), used: z.number() })),
          }),
          ...errors(400, 401, 403),
        },
      },
    },
    async (request, reply) => {
      const { subject, granularity, limit } = request.query;
      const step = granularity === "hour" ? HOUR : DAY;
      const to = request.query.to ? Date.parse(request.query.to) : Math.ceil((ctx.clock.now() + 1) / step) * step;
      const from = request.query.from ? Date.parse(request.query.from) : to - (granularity === "hour" ? 2 : 30) * DAY;
      const maxDays = granularity === "hour" ? 31 : 400;
      if (from >= to) return sendProblem(reply, problem(400, "from: must be before `to`.", { field: "from" }));
      if (to - from > maxDays * DAY) {
        return sendProblem(
          reply,
          problem(400, `from: a ${granularity}ly history spans at most ${maxDays} days.`, { field: "from" }),
        );
      }
      const points = await reports.history(subject, granularity, from, to, limit);
      return {
        subject,
        granularity,
        from: new Date(from).toISOString(),
        to: new Date(to).toISOString(),
        points,
      };
    },
  );

  app.get(
    "/v1/admin/usage/top",
    {
      preHandler: atLeast(ctx, "readonly"),
      schema: {
        tags: ["admin"],
        summary: "Top consumers of a limit in a month (default: this month, the first monthly quota)",
        security,
        querystring: z.strictObject({
          period: month,
          limit: z.string().min(1).max(64).optional(),
          n: z.coerce.number().int().min(1).max(500).default(20),
          timeZone: zone,
        }),
        response: {
          200: z.object({
            period: z.string(),
            limit: z.string().nullable(),
            from: z.string(),
            to: z.string(),
            subjects: z.array(topEntry),
          }),
          ...errors(400, 401, 403),
        },
      },
    },
    async (request, reply) => {
      const { period, n } = request.query;
      const named = request.query.limit;
      const limit = named
        ? allLimits(ctx).find((l) => l.compiled.limit.name === named)?.compiled.limit
        : defaultLimit(ctx);
      if (named && !limit) {
        return sendProblem(reply, problem(400, `limit: no configured limit is named "${named}".`, { field: "limit" }));
      }
      const timeZone = request.query.timeZone ?? (limit?.algorithm === "quota" ? limit.timeZone : "UTC");
      const range = monthRange(period, timeZone, ctx.clock.now());
      // One period per subject in the month: a monthly quota read in its own zone, or any other
      // limit (recorded per UTC month) read in UTC.
      const onePeriod =
        limit !== undefined &&
        (limit.algorithm === "quota" ? limit.period === "month" && timeZone === limit.timeZone : timeZone === "UTC");
      const subjects = limit ? await reports.top(limit.name, range.from, range.to, n, onePeriod) : [];
      return {
        period: range.label,
        limit: limit?.name ?? null,
        from: new Date(range.from).toISOString(),
        to: new Date(range.to).toISOString(),
        subjects,
      };
    },
  );

  app.get(
    "/v1/admin/usage/near-limit",
    {
      preHandler: atLeast(ctx, "readonly"),
      schema: {
        tags: ["admin"],
        summary: "Subjects at or above `ratio` of a calendar quota in its current period",
        security,
        querystring: z.strictObject({
          ratio: z.coerce.number().min(0).max(1).default(0.8),
          n: z.coerce.number().int().min(1).max(1000).default(100),
        }),
        response: {
          200: z.object({
            ratio: z.number(),
            subjects: z.array(
              topEntry.extend({
                capacity: z.number(),
                ratio: z.number(),
                periodStart: z.string(),
                periodEnd: z.string(),
              }),
            ),
          }),
          ...errors(400, 401, 403),
        },
      },
    },
    async (request) => {
      const { ratio, n } = request.query;
      const now = ctx.clock.now();
      const queries = new Map<string, NearLimitQuery & { limit: Limit; end: number }>();
      for (const { compiled, plan } of allLimits(ctx)) {
        const { limit, counter } = compiled;
        if (limit.algorithm !== "quota") continue;
        const { start, end } = periodBounds(now, limit.period ?? "month", limit.timeZone);
        const query = { counter, periodStart: start, threshold: ratio * limit.capacity, limit, end };
        queries.set(`${counter}\u0000${plan ?? ""}`, plan === undefined ? query : { ...query, plan });
      }
      const found = await reports.nearLimit([...queries.values()], n);
      const byCounter = [...queries.values()];
      return {
        ratio,
        subjects: found.map((entry) => {
          const query =
            byCounter.find((q) => q.counter === entry.counter && (q.plan === undefined || q.plan === entry.plan)) ??
            (byCounter.find((q) => q.counter === entry.counter) as (typeof byCounter)[number]);
          const capacity = query.limit.capacity;
          return {
            subject: entry.subject,
            limit: entry.limit,
            unit: entry.unit,
            plan: entry.plan,
            used: entry.used,
            capacity,
            ratio: entry.used / capacity,
            periodStart: new Date(query.periodStart).toISOString(),
            periodEnd: new Date(query.end).toISOString(),
          };
        }),
      };
    },
  );

  app.get(
    "/v1/admin/usage/summary",
    {
      preHandler: atLeast(ctx, "readonly"),
      schema: {
        tags: ["admin"],
        summary: "Usage by plan and limit in a month, with growth against the month before",
        security,
        querystring: z.strictObject({ period: month, timeZone: zone }),
        response: {
          200: z.object({
            period: z.string(),
            from: z.string(),
            to: z.string(),
            previousFrom: z.string(),
            plans: z.array(
              z.object({
                plan: z.string(),
                limit: z.string(),
                unit: z.string(),
                used: z.number(),
                subjects: z.number(),
                previousUsed: z.number(),
                previousSubjects: z.number(),
                growth: z.number().nullable(),
              }),
            ),
          }),
          ...errors(400, 401, 403),
        },
      },
    },
    async (request) => {
      const range = monthRange(request.query.period, request.query.timeZone ?? "UTC", ctx.clock.now());
      const plans = await reports.summary(range.from, range.to, range.previousFrom);
      return {
        period: range.label,
        from: new Date(range.from).toISOString(),
        to: new Date(range.to).toISOString(),
        previousFrom: new Date(range.previousFrom).toISOString(),
        plans,
      };
    },
  );

  app.get(
    "/v1/admin/usage/export",
    {
      preHandler: atLeast(ctx, "readonly"),
      schema: {
        tags: ["admin"],
        summary:
          "Usage per subject, limit, category, plan and UTC day of a month: csv, json, or CloudEvents NDJSON (stable ids: ingesting twice bills once)",
        security,
        querystring: z.strictObject({ period: month, format: z.enum(["csv", "json", "cloudevents"]).default("json") }),
        response: { 200: z.string().describe("the export, in the format asked for"), ...errors(400, 401, 403) },
      },
    },
    async (request, reply) => {
      const range = monthRange(request.query.period, "UTC", ctx.clock.now());
      const rows = await reports.export(range.from, range.to);
      const name = `tollgate-usage-${range.label}`;
      switch (request.query.format) {
        case "csv":
          return reply
            .type("text/csv; charset=utf-8")
            .header("content-disposition", `attachment; filename="${name}.csv"`)
            .send(toCsv(rows));
        case "cloudevents":
          return reply
            .type("application/x-ndjson; charset=utf-8")
            .header("content-disposition", `attachment; filename="${name}.ndjson"`)
            .send(toCloudEvents(rows));
        default:
          return reply.type("application/json; charset=utf-8").send(JSON.stringify({ period: range.label, rows }));
      }
    },
  );
}
