import { Readable } from "node:stream";
import { type CompiledLimit, type Limit, periodBounds } from "@tollgate/core";
import type { ExportRow, NearLimitQuery } from "@tollgate/db";
import { z } from "zod";
import type { ServerContext } from "../../context.js";
import { route } from "../../openapi/operation.js";
import { PROBLEMS, problem, sendProblem } from "../../problem.js";
import type { App } from "../types.js";
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

const CSV_HEADER = "id,subject,limit,category,plan,unit,day,quantity\r\n";

const csvLine = (r: ExportRow) =>
  `${[r.id, r.subject, r.limit, r.category, r.plan, r.unit, r.day, r.quantity].map(csvField).join(",")}\r\n`;

/** CloudEvents 1.0, one JSON object per line: `id` is stable per row, so ingesting twice bills once. */
const cloudEventLine = (r: ExportRow) =>
  `${JSON.stringify({
    specversion: "1.0",
    id: r.id,
    source: "/tollgate/usage",
    type: "dev.tollgate.usage",
    subject: r.subject,
    time: `${r.day}T00:00:00Z`,
    datacontenttype: "application/json",
    data: { limit: r.limit, category: r.category, plan: r.plan, unit: r.unit, quantity: r.quantity },
  })}\n`;

/**
 * The export as text chunks, one page of rows at a time (the ledger reads it with a cursor): an
 * export of any size holds one page in memory. The first page is read before the response starts,
 * so a database that cannot answer still gets a 503 problem instead of a cut-off body.
 */
async function exportBody(rows: AsyncGenerator<ExportRow>, format: "csv" | "json" | "cloudevents", period: string) {
  const first = await rows.next();
  async function* chunks(): AsyncGenerator<string> {
    const line = format === "csv" ? csvLine : format === "cloudevents" ? cloudEventLine : JSON.stringify;
    const separator = format === "json" ? "," : "";
    if (format === "csv") yield CSV_HEADER;
    if (format === "json") yield `{"period":${JSON.stringify(period)},"rows":[`;
    let buffered = "";
    let count = 0;
    for (let next = first; next.done !== true; next = await rows.next()) {
      buffered += (count > 0 ? separator : "") + line(next.value);
      // Chunks of about 64 KiB: few writes, little memory.
      if (buffered.length >= 65_536) {
        yield buffered;
        buffered = "";
      }
      count++;
    }
    if (format === "json") buffered += "]}";
    if (buffered.length > 0) yield buffered;
  }
  return Readable.from(chunks(), { objectMode: false });
}

const EXPORT_ROW = {
  id: "u_3f9a2c",
  subject: "user:u-42",
  limit: "minute",
  category: "ops_triage",
  plan: "free",
  unit: "requests",
  day: "2026-03-10",
  quantity: 12,
};

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
    route(ctx, {
      id: "getUsageHistory",
      tag: "admin",
      summary: "A subject's usage per hour or day",
      description:
        "From the usage ledger: what a subject used per hour or per day, per limit and category (default: the last 30 days, daily; hourly spans at most 31 days, daily 400).",
      access: { minimum: "readonly" },
      request: {
        querystring: z.strictObject({
          subject: subjectRef,
          granularity: z.enum(["hour", "day"]).default("day").describe("Points per hour or per day."),
          from: isoTime.describe("Start (inclusive), ISO 8601."),
          to: isoTime.describe("End (exclusive), ISO 8601."),
          limit: z.string().min(1).max(64).optional().describe("Only this limit."),
        }),
      },
      parameterExamples: { subject: "user:u-42", granularity: "day" },
      responses: {
        200: {
          description: "The points, oldest first.",
          schema: z.object({
            subject: z.string(),
            granularity: z.enum(["hour", "day"]),
            from: z.string(),
            to: z.string(),
            points: z.array(z.object({ start: z.string(), limit: z.string(), category: z.string(), used: z.number() })),
          }),
          examples: {
            daily: {
              summary: "Two days of one user",
              value: {
                subject: "user:u-42",
                granularity: "day",
                from: "2026-03-09T00:00:00.000Z",
                to: "2026-03-11T00:00:00.000Z",
                points: [
                  { start: "2026-03-09T00:00:00.000Z", limit: "minute", category: "ops_triage", used: 57 },
                  { start: "2026-03-10T00:00:00.000Z", limit: "minute", category: "ops_triage", used: 12 },
                ],
              },
            },
          },
        },
      },
      problems: [PROBLEMS.serviceUnavailable],
    }),
    async (request, reply) => {
      const { subject, granularity, limit } = request.query;
      const step = granularity === "hour" ? HOUR : DAY;
      const to = request.query.to ? Date.parse(request.query.to) : Math.ceil((ctx.clock.now() + 1) / step) * step;
      const from = request.query.from ? Date.parse(request.query.from) : to - (granularity === "hour" ? 2 : 30) * DAY;
      const maxDays = granularity === "hour" ? 31 : 400;
      if (from >= to)
        return sendProblem(reply, problem(PROBLEMS.validationFailed, "from: must be before `to`.", { field: "from" }));
      if (to - from > maxDays * DAY) {
        return sendProblem(
          reply,
          problem(PROBLEMS.validationFailed, `from: a ${granularity}ly history spans at most ${maxDays} days.`, {
            field: "from",
          }),
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
    route(ctx, {
      id: "listTopConsumers",
      tag: "admin",
      summary: "Top consumers of a limit in a month",
      description:
        "From the usage ledger: the subjects that used the most of a limit in a calendar month (default: this month, the first monthly quota), heaviest first.",
      access: { minimum: "readonly" },
      request: {
        querystring: z.strictObject({
          period: month.describe("The month, YYYY-MM (default: this month)."),
          limit: z
            .string()
            .min(1)
            .max(64)
            .optional()
            .describe("The limit to rank by (default: the first monthly quota)."),
          n: z.coerce.number().int().min(1).max(500).default(20).describe("How many subjects."),
          timeZone: zone.describe("The zone the month is read in (default: the quota's own, else UTC)."),
        }),
      },
      parameterExamples: { period: "2026-03", n: 10 },
      responses: {
        200: {
          description: "The subjects, heaviest first.",
          schema: z.object({
            period: z.string(),
            limit: z.string().nullable(),
            from: z.string(),
            to: z.string(),
            subjects: z.array(topEntry),
          }),
          examples: {
            top: {
              summary: "The heaviest key this month",
              value: {
                period: "2026-03",
                limit: "month",
                from: "2026-03-01T00:00:00.000Z",
                to: "2026-04-01T00:00:00.000Z",
                subjects: [
                  {
                    subject: "key:key_5f2a9c1e7b3d4a6f8e0c",
                    limit: "month",
                    unit: "requests",
                    plan: "pro",
                    used: 91200,
                  },
                ],
              },
            },
          },
        },
      },
      problems: [PROBLEMS.serviceUnavailable],
    }),
    async (request, reply) => {
      const { period, n } = request.query;
      const named = request.query.limit;
      const limit = named
        ? allLimits(ctx).find((l) => l.compiled.limit.name === named)?.compiled.limit
        : defaultLimit(ctx);
      if (named && !limit) {
        return sendProblem(
          reply,
          problem(PROBLEMS.validationFailed, `limit: no configured limit is named "${named}".`, { field: "limit" }),
        );
      }
      const timeZone = request.query.timeZone ?? (limit?.algorithm === "quota" ? limit.timeZone : "UTC");
      const range = monthRange(period, timeZone, ctx.clock.now());
      // A monthly quota read in its own zone: one period per subject, the top rows of the periods'
      // index. Any limit in a UTC month: the top rows of the monthly rollup's index (reports.top).
      const onePeriod =
        limit !== undefined && limit.algorithm === "quota" && limit.period === "month" && timeZone === limit.timeZone;
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
    route(ctx, {
      id: "listNearLimit",
      tag: "admin",
      summary: "Subjects near a calendar quota",
      description:
        "From the usage ledger: subjects at or above `ratio` of a calendar quota in its current period, nearest first: candidates for an upgrade or a warning.",
      access: { minimum: "readonly" },
      request: {
        querystring: z.strictObject({
          ratio: z.coerce.number().min(0).max(1).default(0.8).describe("Used / capacity threshold, 0 to 1."),
          n: z.coerce.number().int().min(1).max(1000).default(100).describe("How many subjects."),
        }),
      },
      parameterExamples: { ratio: 0.9, n: 50 },
      responses: {
        200: {
          description: "The subjects at or above the ratio.",
          schema: z.object({
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
          examples: {
            near: {
              summary: "A key at 91 % of its month",
              value: {
                ratio: 0.9,
                subjects: [
                  {
                    subject: "key:key_5f2a9c1e7b3d4a6f8e0c",
                    limit: "month",
                    unit: "requests",
                    plan: "pro",
                    used: 91200,
                    capacity: 100000,
                    ratio: 0.912,
                    periodStart: "2026-03-01T00:00:00.000Z",
                    periodEnd: "2026-04-01T00:00:00.000Z",
                  },
                ],
              },
            },
          },
        },
      },
      problems: [PROBLEMS.serviceUnavailable],
    }),
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
    route(ctx, {
      id: "getUsageSummary",
      tag: "admin",
      summary: "Usage by plan and limit in a month",
      description:
        "From the usage ledger: per plan and limit, what was used and by how many subjects in a calendar month, with growth against the month before (`growth` is null without a previous month).",
      access: { minimum: "readonly" },
      request: {
        querystring: z.strictObject({
          period: month.describe("The month, YYYY-MM (default: this month)."),
          timeZone: zone.describe("The zone the month is read in (default UTC)."),
        }),
      },
      parameterExamples: { period: "2026-03", timeZone: "UTC" },
      responses: {
        200: {
          description: "The month's totals.",
          schema: z.object({
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
          examples: {
            march: {
              summary: "One plan, 25 % up on February",
              value: {
                period: "2026-03",
                from: "2026-03-01T00:00:00.000Z",
                to: "2026-04-01T00:00:00.000Z",
                previousFrom: "2026-02-01T00:00:00.000Z",
                plans: [
                  {
                    plan: "pro",
                    limit: "month",
                    unit: "requests",
                    used: 500000,
                    subjects: 12,
                    previousUsed: 400000,
                    previousSubjects: 10,
                    growth: 0.25,
                  },
                ],
              },
            },
          },
        },
      },
      problems: [PROBLEMS.serviceUnavailable],
    }),
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
    route(ctx, {
      id: "exportUsage",
      tag: "admin",
      summary: "Export a month's usage",
      description:
        "From the usage ledger: usage per subject, limit, category, plan and UTC day of a calendar month, as JSON, CSV or CloudEvents 1.0 NDJSON. Each row's `id` is stable: ingesting an export twice bills once.",
      access: { minimum: "readonly" },
      request: {
        querystring: z.strictObject({
          period: month.describe("The month, YYYY-MM (default: this month)."),
          format: z.enum(["csv", "json", "cloudevents"]).default("json").describe("The format of the export."),
        }),
      },
      parameterExamples: { period: "2026-03", format: "csv" },
      responses: {
        200: {
          description:
            "The export: `application/json` (format json), `text/csv` (csv) or `application/x-ndjson` (cloudevents).",
          schema: z.object({
            period: z.string(),
            rows: z.array(
              z.object({
                id: z.string(),
                subject: z.string(),
                limit: z.string(),
                category: z.string(),
                plan: z.string(),
                unit: z.string(),
                day: z.string(),
                quantity: z.number(),
              }),
            ),
          }),
          headers: ["Content-Disposition"],
          examples: { json: { summary: "One row", value: { period: "2026-03", rows: [EXPORT_ROW] } } },
          alternatives: {
            "text/csv": {
              summary: "One row",
              value:
                "id,subject,limit,category,plan,unit,day,quantity\r\nu_3f9a2c,user:u-42,minute,ops_triage,free,requests,2026-03-10,12\r\n",
            },
            "application/x-ndjson": {
              summary: "One CloudEvent per line",
              value:
                '{"specversion":"1.0","id":"u_3f9a2c","source":"/tollgate/usage","type":"dev.tollgate.usage","subject":"user:u-42","time":"2026-03-10T00:00:00Z","datacontenttype":"application/json","data":{"limit":"minute","category":"ops_triage","plan":"free","unit":"requests","quantity":12}}\n',
            },
          },
        },
      },
      problems: [PROBLEMS.serviceUnavailable],
    }),
    async (request, reply) => {
      const range = monthRange(request.query.period, "UTC", ctx.clock.now());
      const format = request.query.format;
      const body = await exportBody(reports.exportRows(range.from, range.to), format, range.label);
      const name = `tollgate-usage-${range.label}`;
      switch (format) {
        case "csv":
          return reply
            .type("text/csv; charset=utf-8")
            .header("content-disposition", `attachment; filename="${name}.csv"`)
            .send(body as never);
        case "cloudevents":
          return reply
            .type("application/x-ndjson; charset=utf-8")
            .header("content-disposition", `attachment; filename="${name}.ndjson"`)
            .send(body as never);
        default:
          return reply.type("application/json; charset=utf-8").send(body as never);
      }
    },
  );
}
