import { z } from "zod";
import type { ServerContext } from "../../context.js";
import { problem, sendProblem } from "../../problem.js";
import { errors } from "../../schemas.js";
import type { App } from "../types.js";
import { atLeast, security } from "./common.js";
import { subjectRef, toSubject } from "./counters.js";

const keyUsage = z.object({
  keyId: z.string(),
  owner: z.string(),
  plan: z.string(),
  limits: z.array(
    z.object({ name: z.string(), used: z.number(), limit: z.number(), remaining: z.number(), reset: z.number() }),
  ),
});

/**
 * Usage views computed from the live counters (peeks, never charged). They scan the active
 * keys, so they suit catalogs of thousands of keys; the usage ledger (a later issue) will serve
 * history and large catalogs from SQL.
 */
export function adminUsageRoutes(app: App, ctx: ServerContext) {
  async function keyUsages() {
    const keys = [...ctx.catalog.keysById.values()].filter((k) => k.status === "active");
    return Promise.all(
      keys.map(async (key) => {
        const decision = await ctx.limiter.peek({ subject: { key: key.id }, plan: key.effectivePlan });
        return {
          keyId: key.id,
          owner: key.owner,
          plan: key.plan,
          limits: decision.limits.map((s) => ({
            name: s.name,
            used: s.used,
            limit: s.limit,
            remaining: s.remaining,
            reset: s.reset,
          })),
        };
      }),
    );
  }
  const pick = (period: string) => (usage: z.output<typeof keyUsage>) =>
    usage.limits.find((l) => l.name === period) ?? usage.limits[usage.limits.length - 1];

  app.get(
    "/v1/admin/usage/top",
    {
      preHandler: atLeast(ctx, "readonly"),
      schema: {
        tags: ["admin"],
        summary: "Top consumers among API keys, by the named limit (default `month`)",
        security,
        querystring: z.strictObject({
          period: z.string().max(64).default("month"),
          limit: z.coerce.number().int().min(1).max(500).default(20),
        }),
        response: { 200: z.object({ keys: z.array(keyUsage) }), ...errors(400, 401, 403) },
      },
    },
    async (request) => {
      const by = pick(request.query.period);
      const usages = await keyUsages();
      usages.sort((a, b) => (by(b)?.used ?? 0) - (by(a)?.used ?? 0));
      return { keys: usages.slice(0, request.query.limit) };
    },
  );
  app.get(
    "/v1/admin/usage/near-limit",
    {
      preHandler: atLeast(ctx, "readonly"),
      schema: {
        tags: ["admin"],
        summary: "API keys at or above `ratio` of any enforced limit",
        security,
        querystring: z.strictObject({ ratio: z.coerce.number().min(0).max(1).default(0.8) }),
        response: { 200: z.object({ keys: z.array(keyUsage) }), ...errors(400, 401, 403) },
      },
    },
    async (request) => {
      const { ratio } = request.query;
      const usages = await keyUsages();
      return { keys: usages.filter((u) => u.limits.some((l) => l.limit > 0 && l.used / l.limit >= ratio)) };
    },
  );
  app.get(
    "/v1/admin/usage/subject",
    {
      preHandler: atLeast(ctx, "readonly"),
      schema: {
        tags: ["admin"],
        summary: "Current counters of one subject (peek)",
        security,
        querystring: z.strictObject({
          subject: subjectRef,
          plan: z.string().max(64).optional(),
          category: z.string().max(64).optional(),
        }),
        response: { 200: z.object({ subject: z.string(), limits: keyUsage.shape.limits }), ...errors(400, 401, 403) },
      },
    },
    async (request) => {
      const { subject, plan, category } = request.query;
      const decision = await ctx.limiter.peek({
        subject: toSubject(subject),
        ...(plan ? { plan } : {}),
        ...(category ? { category } : {}),
      });
      return {
        subject,
        limits: decision.limits.map((s) => ({
          name: s.name,
          used: s.used,
          limit: s.limit,
          remaining: s.remaining,
          reset: s.reset,
        })),
      };
    },
  );
  app.get(
    "/v1/admin/usage/history",
    {
      preHandler: atLeast(ctx, "readonly"),
      schema: {
        tags: ["admin"],
        summary: "Usage history (arrives with the usage ledger)",
        security,
        querystring: z.strictObject({ subject: subjectRef }),
        response: errors(400, 401, 403, 501),
      },
    },
    async (_request, reply) =>
      sendProblem(
        reply,
        problem(
          501,
          "Usage history needs the usage ledger, which is not built yet. Current counters: GET /v1/admin/usage/subject.",
        ),
      ),
  );
  app.get(
    "/v1/admin/whoami",
    {
      preHandler: atLeast(ctx, "readonly"),
      schema: {
        tags: ["admin"],
        summary: "The role and name of the calling token",
        security,
        response: { 200: z.object({ name: z.string(), role: z.string() }), ...errors(401, 403) },
      },
    },
    async (request) => ({ name: request.principal?.name ?? "", role: request.principal?.role ?? "" }),
  );
}
