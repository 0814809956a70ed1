import { z } from "zod";
import type { ServerContext } from "../../context.js";
import { ownerSubject } from "../../decide.js";
import { route } from "../../openapi/operation.js";
import type { App } from "../types.js";
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
    route(ctx, {
      id: "getSubjectUsage",
      tag: "admin",
      summary: "Current counters of one subject",
      description:
        "A subject's live counters under a plan and category (peek, nothing charged): what support looks at when a user reports a denial. An API key (`key:ID`) gets its own plan and overrides unless `plan` is given.",
      access: { minimum: "readonly" },
      request: {
        querystring: z.strictObject({
          subject: subjectRef,
          plan: z.string().max(64).optional().describe("The plan whose limits to read."),
          category: z.string().max(64).optional().describe("The category whose limits to read."),
        }),
      },
      parameterExamples: { subject: "user:u-42", category: "ops_triage" },
      responses: {
        200: {
          description: "The subject's counters.",
          schema: z.object({
            subject: z.string(),
            plan: z.string().optional().describe("The plan peeked: `plan`, else the key's own for `key:ID`."),
            limits: limitUsage,
          }),
          examples: {
            user: {
              summary: "A user's minute",
              value: {
                subject: "user:u-42",
                limits: [{ name: "minute", used: 7, limit: 10, remaining: 3, reset: 42 }],
              },
            },
          },
        },
      },
    }),
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
    route(ctx, {
      id: "whoami",
      tag: "admin",
      summary: "The calling token's name and role",
      description: "Who the bearer token belongs to and its role: a dashboard or script checks what it may do.",
      access: { minimum: "readonly" },
      responses: {
        200: {
          description: "The token's name and role.",
          schema: z.object({ name: z.string(), role: z.string() }),
          examples: {
            admin: { summary: "The environment's admin token", value: { name: "env-admin", role: "admin" } },
          },
        },
      },
    }),
    async (request) => ({ name: request.principal?.name ?? "", role: request.principal?.role ?? "" }),
  );
}
