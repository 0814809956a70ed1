import type { Decision } from "@tollgate/core";
import { z } from "zod";
import type { ServerContext } from "../context.js";
import { decodeDecisionId } from "../decision-id.js";
import { route } from "../openapi/operation.js";
import { PROBLEMS, problem, sendProblem } from "../problem.js";
import { settleBodySchema } from "../schemas.js";
import type { App } from "./types.js";

/**
 * POST /v1/settle: replace a decision's estimated cost with the actual one. The decision id is
 * HMAC-signed and carries the receipt, so any instance can settle it; a settle-once counter in
 * the shared store refuses a second settle of the same decision.
 */
/** Seconds a settle refused for an unreachable store should wait before its retry. */
const SETTLE_RETRY_AFTER = 1;

export function settleRoutes(app: App, ctx: ServerContext) {
  app.post(
    "/v1/settle",
    route(ctx, {
      id: "settle",
      tag: "decision",
      summary: "Settle an allowed decision with its actual cost",
      description:
        "Replaces the estimated cost charged by POST /v1/check with the actual one (tokens used by the LLM call): the difference is charged or refunded. The signed `decisionId` carries what was charged, so any instance can settle it, at most once, within `decisions.settleWindow` seconds: a second settle of the same id answers 409. `applied: false` means the counter store was unreachable and the correction was not made (nor will it land later): retry the same settle. 503 with Retry-After: the store could not tell whether the decision was settled already; nothing was charged, retry.",
      access: { roles: ["service", "admin"] },
      request: { body: settleBodySchema },
      bodyExamples: {
        actual: {
          summary: "The call used 1,530 tokens, not the 1,200 estimated",
          value: { decisionId: "v1.eyJ0IjoxNzczMTQ0MDAwMDAwfQ.c2lnbmF0dXJl", cost: 1530 },
        },
      },
      responses: {
        200: {
          description: "Settled: `delta` units were charged (positive) or refunded (negative).",
          schema: z.object({
            settled: z.boolean(),
            delta: z.number().describe("Actual cost minus the estimate."),
            applied: z.boolean().describe("false when the counter store was unreachable."),
          }),
          examples: {
            charged: { summary: "330 more tokens charged", value: { settled: true, delta: 330, applied: true } },
          },
        },
      },
      problems: [PROBLEMS.conflict, PROBLEMS.storeUnavailable],
    }),
    async (request, reply) => {
      const { decisionId, cost } = request.body;
      const ticket = decodeDecisionId(ctx.decisionSecrets, decisionId, ctx.limiter.config);
      if ("error" in ticket)
        return sendProblem(
          reply,
          problem(PROBLEMS.validationFailed, `decisionId ${ticket.error}.`, { field: "decisionId" }),
        );
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
      // At most once per decision, on every instance: the claim is a charge in the shared store.
      const once = await ctx.settleGuard.check({ subject: { key: ticket.nonce } });
      if (once.degraded) {
        // Whether this decision was settled already cannot be known: refuse rather than risk a
        // second charge. (A claim that reached the store late is taken back by the limiter.)
        reply.header("retry-after", String(SETTLE_RETRY_AFTER));
        return sendProblem(
          reply,
          problem(
            PROBLEMS.storeUnavailable,
            "The counter store is unreachable, so settle-once cannot be checked; nothing was charged. Retry after Retry-After.",
            { reason: "store_unavailable", retryAfter: SETTLE_RETRY_AFTER },
          ),
        );
      }
      if (!once.allowed) {
        return sendProblem(
          reply,
          problem(PROBLEMS.conflict, "This decision was already settled; settle each decision once.", {
            field: "decisionId",
          }),
        );
      }
      const settled: Decision = { allowed: true, limits: [], receipt };
      if (ticket.plan !== undefined) settled.plan = ticket.plan;
      if (ticket.category !== undefined) settled.category = ticket.category;
      const outcome = await ctx.limiter.settle(settled, cost);
      if (!outcome.applied) {
        // Not applied (an adjustment abandoned at the timeout is undone if it lands, or taken by
        // the retry): give the claim back so the caller's retry can settle.
        const released = await ctx.settleGuard.refund(once);
        request.log.warn(
          { err: outcome.error, claimReleased: released.applied },
          "settle not applied: store unavailable",
        );
      }
      return { settled: true, delta, applied: outcome.applied };
    },
  );
}
