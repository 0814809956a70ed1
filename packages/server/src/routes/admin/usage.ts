import { z } from "zod";
import type { ServerContext } from "../../context.js";
import { ownerSubject } from "../../decide.js";
import { errors } from "../../schemas.js";
import type { App } from "../types.js";
import { atLeast, security } from "./common.js";
import { subjectRef, toSubject } from "./counters.js";

const limitUsage = z.array(
  z.object({ name: z.string(), used: z.number(), limit: z.number(), remaining: z.number(), reset: z.number() }),
);

/**
 * The live view of one subject's counters (a peek, never charged), alert sinks and whoami. The
 * ledger's reports (history, top, near-limit, summary, export) are in reports.ts.
 */
export function adminUsageRoutes(app: App, ctx: ServerContext) {
  app.get(
    "/v1/admin/usage/subject",
    {
      preHandler: atLeast(ctx, "readonly"),
      schema: {
        tags: ["admin"],
        summary: "Current counters of one subject (peek); an API key (`key:ID`) gets its plan and overrides by default",
        security,
        querystring: z.strictObject({
          subject: subjectRef,
          plan: z.string().max(64).optional(),
          category: z.string().max(64).optional(),
        }),
        response: {
          200: z.object({
            subject: z.string(),
            plan: z.string().optional().describe("The plan peeked: `plan`, else the key's own for `key:ID`."),
            limits: limitUsage,
          }),
          ...errors(400, 401, 403),
        },
      },
    },
    async (request) => {
      const { subject, category } = request.query;
      // An API key's own limits: its plan with its overrides, unless a plan is asked for.
      const key = subject.startsWith("key:") ? ctx.catalog.keysById.get(subject.slice(4)) : undefined;
      const plan = request.query.plan ?? key?.effectivePlan;
      const decision = await ctx.limiter.peek({
        // As /v1/check charges it: the key and its owner (per-org limits of the plan).
        subject: key ? { ...ownerSubject(key.owner), key: key.id } : toSubject(subject),
        ...(plan ? { plan } : {}),
        ...(category ? { category } : {}),
      });
      return {
        subject,
        ...(request.query.plan ? { plan: request.query.plan } : key ? { plan: key.plan } : {}),
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
