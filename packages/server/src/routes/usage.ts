import { z } from "zod";
import { requireRole } from "../auth.js";
import type { ServerContext } from "../context.js";
import { resolve } from "../decide.js";
import { errors, usageQuerySchema } from "../schemas.js";
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

/**
 * GET /v1/usage: the caller's counters, never charged. Subject fields are query parameters; a
 * raw API key goes in the `X-Api-Key` header (never in a URL, which proxies and logs keep).
 */
export function usageRoutes(app: App, ctx: ServerContext) {
  app.get(
    "/v1/usage",
    {
      preHandler: requireRole(ctx.catalog, ctx.throttle, { roles: ["service", "admin"] }),
      schema: {
        tags: ["decision"],
        summary: "Peek at usage without charging",
        security: [{ bearer: [] }],
        querystring: usageQuerySchema,
        headers: z.looseObject({ "x-api-key": z.string().min(1).max(512).optional() }),
        response: { 200: usageSchema, ...errors(400, 401, 403, 429) },
      },
    },
    async (request) => {
      const { category, plan, ...subject } = request.query;
      const apiKey = request.headers["x-api-key"];
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
