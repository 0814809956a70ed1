import { z } from "zod";
import type { ServerContext } from "../context.js";
import type { App } from "./types.js";

/** Operations: liveness, readiness (stores reachable), Prometheus metrics. */
export function opsRoutes(app: App, ctx: ServerContext) {
  app.get(
    "/healthz",
    {
      schema: {
        tags: ["operations"],
        summary: "Liveness: the process serves HTTP",
        response: { 200: z.object({ status: z.literal("ok") }) },
      },
    },
    async () => ({ status: "ok" as const }),
  );
  app.get(
    "/readyz",
    {
      schema: {
        tags: ["operations"],
        summary:
          "Readiness: counter store and database reachable, no store node degraded (breaker closed); the `ledger` check reports a write backlog (`degraded: ...`) without failing readiness",
        response: {
          200: z.object({ status: z.enum(["ready", "unavailable"]), checks: z.record(z.string(), z.string()) }),
          503: z.object({ status: z.enum(["ready", "unavailable"]), checks: z.record(z.string(), z.string()) }),
        },
      },
    },
    async (_request, reply) => {
      const checks: Record<string, string> = {};
      const probe = async (name: string, call: () => Promise<void>) => {
        try {
          await Promise.race([
            call(),
            new Promise((_, reject) => setTimeout(() => reject(new Error("timeout")), 2000).unref()),
          ]);
          checks[name] = "ok";
        } catch (error) {
          checks[name] = `unreachable: ${(error as Error).message}`;
        }
      };
      await Promise.all([
        probe(`store:${ctx.store.name}`, async () => {
          await ctx.store.ping?.();
        }),
        probe(`database:${ctx.db.kind}`, () => ctx.db.ping()),
      ]);
      // Decisions are degraded while any store node's breaker is not closed: not ready until
      // the probe (every breaker.coolDown) or a trial decision finds the node back.
      for (const node of ctx.limiter.health().partitions) {
        checks[`breaker:${node.partition}`] = node.state === "closed" ? "ok" : `${node.state}: decisions degraded`;
      }
      // Informational: decisions go on while the ledger buffers, so it never makes the instance unready.
      checks.ledger = ctx.ledger.status();
      const ready = Object.entries(checks).every(([name, c]) => name === "ledger" || c === "ok");
      return reply.code(ready ? 200 : 503).send({ status: ready ? "ready" : "unavailable", checks });
    },
  );
  app.get(
    "/metrics",
    { schema: { tags: ["operations"], summary: "Prometheus metrics (text format)" } },
    async (_request, reply) => reply.type(ctx.metrics.registry.contentType).send(await ctx.metrics.registry.metrics()),
  );
}
