import { z } from "zod";
import type { ServerContext } from "../context.js";
import { type CheckBody, decideOne, resolve, UnknownNameError } from "../decide.js";
import { allowedDecision, deniedDecision, subjectMissingDecision } from "../openapi/examples.js";
import { route } from "../openapi/operation.js";
import { batchBodySchema, checkBodySchema, decisionSchema } from "../schemas.js";
import { endOfTurn } from "../turn.js";
import type { App } from "./types.js";

const access = { roles: ["service" as const, "admin" as const] };

const checkExamples = {
  user: {
    summary: "A signed-in user calls an LLM endpoint estimated at 1,200 tokens",
    value: { subject: { user: "u-42", org: "acme" }, category: "ops_triage", cost: 1200 },
  },
  apiKey: {
    summary: "A caller presents a Tollgate API key: its plan and scopes apply",
    value: { subject: { apiKey: "tg_live_0123456789abcdef0123456789abcdef" }, category: "generate" },
  },
};

/** POST /v1/check and /v1/check/batch: the decision API's hot path. */
export function checkRoutes(app: App, ctx: ServerContext) {
  app.post(
    "/v1/check",
    route(ctx, {
      id: "check",
      tag: "decision",
      summary: "Decide one request (and charge it when allowed)",
      description:
        "Decides whether the subject may make the request and, when allowed, charges `cost` to every limit that applies. A denial is a decision, not an error: any well-formed request answers 200 with the decision in the body (`allowed`, `reason`, `retryAfter`, every limit's remaining and reset, and the `headers` to copy onto your own response). Keep `decisionId` to settle the actual cost later with POST /v1/settle. Unknown plan or category names answer 400 and count nothing.",
      access,
      request: { body: checkBodySchema },
      bodyExamples: checkExamples,
      responses: {
        200: {
          description:
            "The decision, allowed or denied. The RateLimit fields are also sent as response headers, for gateways that forward them.",
          schema: decisionSchema,
          headers: ["RateLimit", "RateLimit-Policy"],
          examples: {
            allowed: { summary: "Allowed and charged", value: allowedDecision },
            denied: { summary: "Denied by the per-minute limit", value: deniedDecision },
            subjectMissing: { summary: "Denied: the request names no user", value: subjectMissingDecision },
          },
        },
      },
    }),
    async (request, reply) => {
      // Decide after this turn's reads so responses leave together (see turn.ts).
      await endOfTurn();
      const decision = await decideOne(ctx, request.body);
      const { RateLimit, "RateLimit-Policy": policy } = decision.headers;
      if (policy !== undefined) reply.header("RateLimit-Policy", policy);
      if (RateLimit !== undefined) reply.header("RateLimit", RateLimit);
      return decision;
    },
  );
  app.post(
    "/v1/check/batch",
    route(ctx, {
      id: "checkBatch",
      tag: "decision",
      summary: "Decide up to 100 requests, each on its own",
      description:
        "Decides each request as POST /v1/check would, in order, in one round trip. Not all-or-nothing: each decision stands on its own. Every plan and category name is checked first, so one unknown name answers 400 (naming `requests[i].field`) and counts nothing.",
      access,
      request: { body: batchBodySchema },
      bodyExamples: {
        two: {
          summary: "Two users' requests in one call",
          value: { requests: [checkExamples.user.value, { subject: { user: "u-7" }, category: "ops_triage" }] },
        },
      },
      responses: {
        200: {
          description: "One decision per request, in the order sent.",
          schema: z.object({ decisions: z.array(decisionSchema) }),
          examples: {
            mixed: { summary: "One allowed, one denied", value: { decisions: [allowedDecision, deniedDecision] } },
          },
        },
      },
    }),
    async (request) => {
      const { requests } = request.body;
      // Every request is resolved once, before any is decided: a bad name counts nothing, and
      // each decision uses the key it was resolved with.
      const resolved = requests.map((body, i) => {
        try {
          return resolve(ctx, body);
        } catch (error) {
          if (error instanceof UnknownNameError)
            throw new UnknownNameError(`requests[${i}].${error.field}`, error.message);
          throw error;
        }
      });
      return {
        decisions: await Promise.all(resolved.map((once, i) => decideOne(ctx, requests[i] as CheckBody, once))),
      };
    },
  );
}
