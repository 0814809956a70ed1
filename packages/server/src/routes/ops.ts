import { z } from "zod";
import type { ServerContext } from "../context.js";
import { route } from "../openapi/operation.js";
import type { App } from "./types.js";

/** Operations: liveness, readiness (stores reachable), Prometheus metrics. */
export function opsRoutes(app: App, ctx: ServerContext) {
  app.get(
    "/healthz",
    route(ctx, {
      id: "getHealth",
      tag: "operations",
      summary: "Liveness: the process serves HTTP",
      description:
        "Answers 200 while the process serves HTTP, whatever the state of its stores (use /readyz for those).",
      access: "public",
      responses: {
        200: {
          description: "The process is alive.",
          schema: z.object({ status: z.literal("ok") }),
          examples: { ok: { summary: "Alive", value: { status: "ok" } } },
        },
      },
    }),
    async () => ({ status: "ok" as const }),
  );
  const readiness = z.object({
    status: z.enum(["ready", "unavailable"]),
    checks: z
      .record(z.string(), z.string())
      .describe(
        'Each store and breaker: "ok", "unreachable: <reason>" or "<state>: decisions degraded"; `ledger`: "ok" or "degraded: <backlog>" (informational).',
      ),
  });
  app.get(
    "/readyz",
    route(ctx, {
      id: "getReadiness",
      tag: "operations",
      summary: "Readiness: counter store and database reachable, no store node degraded",
      description:
        "Probes the counter store and the database (2 s timeout each) and reads each store node's circuit breaker. 200 when both stores answer and every breaker is closed; 503 otherwise (decisions would be degraded), so a load balancer stops sending traffic to this instance. The `ledger` check reports a usage-ledger write backlog (`degraded: ...`) without failing readiness.",
      access: "public",
      responses: {
        200: {
          description: "Both stores answer and every breaker is closed.",
          schema: readiness,
          examples: {
            ready: {
              summary: "Ready",
              value: {
                status: "ready",
                checks: { "store:memory": "ok", "database:pglite": "ok", "breaker:memory": "ok", ledger: "ok" },
              },
            },
          },
        },
        503: {
          description: "A store does not answer or a breaker is open; `checks` says which.",
          schema: readiness,
          examples: {
            unavailable: {
              summary: "Redis unreachable",
              value: {
                status: "unavailable",
                checks: {
                  "store:redis": "unreachable: timeout",
                  "database:postgres": "ok",
                  "breaker:redis": "open: decisions degraded",
                  ledger: "ok",
                },
              },
            },
          },
        },
      },
    }),
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
    route(ctx, {
      id: "getMetrics",
      tag: "operations",
      summary: "Prometheus metrics (text format)",
      description:
        "Decisions by category and reason, store latency and errors, circuit-breaker state, HTTP latency by route, in the Prometheus text exposition format.",
      access: "public",
      responses: {
        200: {
          description: "The metrics, in the Prometheus text format 0.0.4.",
          contentType: "text/plain",
          examples: {
            decisions: {
              summary: "A counter",
              value: 'tollgate_decisions_total{result="allowed",reason="none",category="ops_triage"} 42\n',
            },
          },
        },
      },
    }),
    async (_request, reply) => reply.type(ctx.metrics.registry.contentType).send(await ctx.metrics.registry.metrics()),
  );
}
