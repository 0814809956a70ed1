import { z } from "zod";
import { requireRole } from "../auth.js";
import type { ServerContext } from "../context.js";
import { type CheckBody, decideOne, resolve, UnknownNameError } from "../decide.js";
import { batchBodySchema, checkBodySchema, decisionSchema, errors } from "../schemas.js";
import { endOfTurn } from "../turn.js";
import type { App } from "./types.js";

/** POST /v1/check and /v1/check/batch: the decision API's hot path. */
export function checkRoutes(app: App, ctx: ServerContext) {
  const auth = requireRole(ctx.catalog, ctx.throttle, { roles: ["service", "admin"] });
  app.post(
    "/v1/check",
    {
      preHandler: auth,
      schema: {
        tags: ["decision"],
        summary: "Decide one request (and charge it when allowed)",
        description: "Always 200 for a well-formed request: the decision is in the body.",
        security: [{ bearer: [] }],
        body: checkBodySchema,
        response: { 200: decisionSchema, ...errors(400, 401, 403, 413, 429) },
      },
    },
    async (request) => {
      // Decide after this turn's reads so responses leave together (see turn.ts).
      await endOfTurn();
      return decideOne(ctx, request.body);
    },
  );
  app.post(
    "/v1/check/batch",
    {
      preHandler: auth,
      schema: {
        tags: ["decision"],
        summary: "Decide up to 100 requests, each on its own (not all-or-nothing across them)",
        security: [{ bearer: [] }],
        body: batchBodySchema,
        response: { 200: z.object({ decisions: z.array(decisionSchema) }), ...errors(400, 401, 403, 413, 429) },
      },
    },
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
