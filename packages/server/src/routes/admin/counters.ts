import { SUBJECT_FIELDS, type Subject } from "@tollgate/core";
import { z } from "zod";
import type { ServerContext } from "../../context.js";
import { route } from "../../openapi/operation.js";
import { PROBLEMS } from "../../problem.js";
import type { App } from "../types.js";
import { actorOf } from "./common.js";

export const subjectRef = z
  .string()
  .max(300)
  .regex(new RegExp(`^(${SUBJECT_FIELDS.join("|")}):.{1,256}$`), 'a subject such as "user:u-42" or "key:key_abc"');

export const toSubject = (ref: string): Subject => {
  const colon = ref.indexOf(":");
  return { [ref.slice(0, colon)]: ref.slice(colon + 1) } as Subject;
};

/** POST /v1/admin/counters/reset (operator): forget a subject's counters, all or one limit. */
export function counterRoutes(app: App, ctx: ServerContext) {
  app.post(
    "/v1/admin/counters/reset",
    route(ctx, {
      id: "resetCounters",
      tag: "admin",
      summary: "Reset a subject's counters",
      description:
        "Forgets a subject's counters under every plan and category, or only under the named limit: the subject starts afresh (a support action after an incident). Audited.",
      access: { minimum: "operator" },
      request: {
        body: z.strictObject({
          subject: subjectRef,
          limit: z.string().min(1).max(64).optional().describe("Only this limit's counters."),
        }),
      },
      bodyExamples: {
        user: { summary: "Reset user u-42's per-minute counter", value: { subject: "user:u-42", limit: "minute" } },
      },
      responses: {
        200: {
          description: "Reset.",
          schema: z.object({ reset: z.literal(true), subject: z.string() }),
          examples: { done: { summary: "Reset", value: { reset: true, subject: "user:u-42" } } },
        },
      },
      problems: [PROBLEMS.serviceUnavailable],
    }),
    async (request) => {
      const { subject, limit } = request.body;
      // The audit entry and the reset happen together or not at all: the entry is written in a
      // transaction that commits only after the store has reset the counters, so a reset the
      // store refuses leaves no entry, and an entry the database refuses resets nothing.
      // Counters live in the store, not the catalog: no catalog version bump.
      await ctx.db.kysely.transaction().execute(async (trx) => {
        await trx
          .insertInto("audit_log")
          .values({
            at: new Date(),
            actor: actorOf(request),
            action: "counters.reset",
            target: subject,
            detail: JSON.stringify({ limit }),
          })
          .execute();
        await ctx.limiter.reset(toSubject(subject), limit ? { limit } : {});
      });
      return { reset: true as const, subject };
    },
  );
}
