import { z } from "zod";
import type { ServerContext } from "../context.js";
import type { App } from "./types.js";

const PLACEHOLDER = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tollgate</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#222}code{background:#f3f3f3;padding:0 .2em}</style></head>
<body><h1>Tollgate</h1>
<p>The server is running. The dashboard is coming in a later release; this page is only a placeholder.</p>
<ul>
<li><a href="/docs">API documentation</a> (OpenAPI: <a href="/openapi.json">/openapi.json</a>)</li>
<li><a href="/healthz">/healthz</a>, <a href="/readyz">/readyz</a>, <a href="/metrics">/metrics</a></li>
</ul>
<p>Decide a request: <code>curl -H "Authorization: Bearer $TOLLGATE_SERVICE_TOKEN" -H "content-type: application/json" -d '{"subject":{"user":"u-42"},"category":"ops_triage"}' http://HOST/v1/check</code></p>
</body></html>`;

/** Operations: liveness, readiness (stores reachable), Prometheus metrics, and the placeholder page. */
export function opsRoutes(app: App, ctx: ServerContext) {
  app.get("/", { schema: { hide: true } }, async (_request, reply) =>
    reply.type("text/html; charset=utf-8").send(PLACEHOLDER),
  );
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
