import { z } from "zod";
import type { ServerContext } from "../context.js";
import { resolve } from "../decide.js";
import { route } from "../openapi/operation.js";
import { PROBLEMS, problem, sendProblem } from "../problem.js";
import { usageQuerySchema } from "../schemas.js";
import type { App } from "./types.js";

export const usageSchema = z.object({
  reason: z
    .literal("invalid_key")
    .optional()
    .describe("The X-Api-Key is unknown, revoked or expired (as /v1/check answers it); nothing to show."),
  plan: z.string().optional(),
  category: z.string().optional(),
  keyId: z.string().optional(),
  limits: z.array(
    z.object({
      name: z.string(),
      subject: z.string(),
      mode: z.string(),
      used: z.number(),
      limit: z.number(),
      remaining: z.number(),
      reset: z.number(),
      window: z.number(),
    }),
  ),
});

const SUBJECT_PARAMS = ["user", "key", "org", "project", "ip"] as const;

/**
 * GET /v1/usage: the caller's counters, never charged. Subject fields are query parameters; a
 * raw API key goes in the `X-Api-Key` header (never in a URL, which proxies and logs keep).
 */
export function usageRoutes(app: App, ctx: ServerContext) {
  app.get(
    "/v1/usage",
    route(ctx, {
      id: "getUsage",
      tag: "decision",
      summary: "Peek at a subject's usage without charging",
      description:
        'The counters a POST /v1/check with the same subject, plan and category would see, without charging anything: for a "you have used 7 of 10 this minute" display. Name the subject with at least one of the query parameters `user`, `key`, `org`, `project`, `ip`, or send a Tollgate API key in the `X-Api-Key` header (never in the URL, which proxies and logs keep); without any, the answer is 400 naming `user`.',
      access: { roles: ["service", "admin"] },
      request: {
        querystring: usageQuerySchema,
        headers: z.looseObject({
          "x-api-key": z
            .string()
            .min(1)
            .max(512)
            .optional()
            .describe("A Tollgate API key whose usage to read (its plan applies)."),
        }),
      },
      parameterExamples: { user: "u-42", org: "acme", category: "ops_triage" },
      responses: {
        200: {
          description: "The subject's counters under every limit that applies (empty when the key is not valid).",
          schema: usageSchema,
          examples: {
            user: {
              summary: "A user's per-minute usage",
              value: {
                category: "ops_triage",
                limits: [
                  {
                    name: "minute",
                    subject: "user:u-42",
                    mode: "enforce",
                    used: 7,
                    limit: 10,
                    remaining: 3,
                    reset: 42,
                    window: 60,
                  },
                ],
              },
            },
          },
        },
      },
    }),
    async (request, reply) => {
      const { category, plan, ...subject } = request.query;
      const apiKey = request.headers["x-api-key"];
      if (typeof apiKey !== "string" && SUBJECT_PARAMS.every((field) => subject[field] === undefined)) {
        return sendProblem(
          reply,
          problem(
            PROBLEMS.validationFailed,
            "user: name a subject with one of the query parameters user, key, org, project, ip, or send X-Api-Key.",
            { field: "user", issues: [{ path: "user", message: "a subject field is required" }] },
          ),
        );
      }
      const body = {
        subject: { ...subject, ...(typeof apiKey === "string" ? { apiKey } : {}) },
        ...(category ? { category } : {}),
        ...(plan ? { plan } : {}),
      };
      let resolved = resolve(ctx, body);
      // A key without the category's scope may still see its own usage.
      if (!resolved.ok && resolved.decision.reason === "forbidden")
        resolved = resolve(ctx, { ...body, category: undefined });
      // The only refusal left is an API key that is unknown, revoked or expired: say so, as
      // /v1/check does, rather than answer an empty usage that looks like a fresh key's.
      if (!resolved.ok) return { reason: "invalid_key" as const, limits: [], ...(category ? { category } : {}) };
      const { input, keyId } = resolved;
      if (category) input.category = category;
      const decision = await ctx.limiter.peek(input);
      const key = keyId ? ctx.catalog.keysById.get(keyId) : undefined;
      return {
        ...(key ? { plan: key.plan, keyId: key.id } : decision.plan ? { plan: decision.plan } : {}),
        ...(decision.category ? { category: decision.category } : {}),
        limits: decision.limits.map((s) => ({
          name: s.name,
          subject: s.subject,
          mode: s.mode,
          used: s.used,
          limit: s.limit,
          remaining: s.remaining,
          reset: s.reset,
          window: s.window,
        })),
      };
    },
  );
}
