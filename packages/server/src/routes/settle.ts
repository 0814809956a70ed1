import type { Decision } from "@tollgate/core";
import { z } from "zod";
import { requireRole } from "../auth.js";
import type { ServerContext } from "../context.js";
import { decodeDecisionId } from "../decision-id.js";
import { problem, sendProblem } from "../problem.js";
import { errors, settleBodySchema } from "../schemas.js";
import type { App } from "./types.js";

/**
 * POST /v1/settle: replace a decision's estimated cost with the actual one. The decision id is
 * HMAC-signed and carries the receipt, so any instance can settle it; a settle-once counter in
 * the shared store refuses a second settle of the same decision.
 */
export function settleRoutes(app: App, ctx: ServerContext) {
  app.post(
    "/v1/settle",
    {
      preHandler: requireRole(ctx.catalog, ctx.throttle, { roles: ["service", "admin"] }),
      schema: {
        tags: ["decision"],
        summary: "Settle an allowed decision with its actual cost",
        security: [{ bearer: [] }],
        body: settleBodySchema,
        response: {
          200: z.object({ settled: z.boolean(), delta: z.number(), applied: z.boolean() }),
          ...errors(400, 401, 403, 409, 429),
        },
      },
    },
    async (request, reply) => {
      const { decisionId, cost } = request.body;
      const ticket = decodeDecisionId(ctx.decisionSecrets, decisionId, ctx.limiter.config);
      if ("error" in ticket)
        return sendProblem(reply, problem(400, `decisionId ${ticket.error}.`, { field: "decisionId" }));
      const age = ctx.clock.now() - ticket.issuedAt;
      if (ticket.receipt.items.length > 0 && age > ctx.config.decisions.settleWindow * 1000) {
        return sendProblem(
          reply,
          problem(
            400,
            `decisionId is older than ${ctx.config.decisions.settleWindow} s and can no longer be settled.`,
            {
              field: "decisionId",
            },
          ),
        );
      }
      const { receipt } = ticket;
      const delta = receipt.items.length === 0 ? 0 : cost - receipt.cost;
      if (delta === 0) return { settled: true, delta: 0, applied: true };
      const once = await ctx.settleGuard.check({ subject: { key: ticket.nonce } });
      if (!once.allowed && !once.degraded) {
        return sendProblem(
          reply,
          problem(409, "This decision was already settled; settle each decision once.", { field: "decisionId" }),
        );
      }
      const settled: Decision = { allowed: true, limits: [], receipt };
      if (ticket.plan !== undefined) settled.plan = ticket.plan;
      if (ticket.category !== undefined) settled.category = ticket.category;
      const outcome = await ctx.limiter.settle(settled, cost);
      if (!outcome.applied) request.log.warn({ err: outcome.error }, "settle not applied: store unavailable");
      return { settled: true, delta, applied: outcome.applied };
    },
  );
}
