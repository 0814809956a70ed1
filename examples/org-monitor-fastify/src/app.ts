// Use case 2: count requests per organisation, per endpoint category, per minute, and alert
// once per window when an organisation first crosses its threshold. Never blocks.
import { type Clock, createLimiter, type Decision, type LimitSpec, memoryStore, type Store } from "@tollgate/core";
import { tollgate } from "@tollgate/http/fastify";
import Fastify, { type FastifyInstance } from "fastify";

/** Requests per minute per organisation before an alert. */
export const THRESHOLDS = { llm_call: 15, collections: 3, evaluations: 3 } as const;
export type Category = keyof typeof THRESHOLDS;

/** What the error tracker / Discord channel receives: the key and the alert name the same tenant level. */
export interface RateAlert {
  org: string;
  category: string;
  count: number;
  threshold: number;
}

const monitor = (category: Category): LimitSpec => ({
  name: `${category}-per-minute`,
  per: "org",
  algorithm: "fixed-window",
  limit: THRESHOLDS[category],
  window: "1m",
  mode: "monitor",
  failMode: "open",
  alert: "discord",
});

/** Posts to a Discord webhook when DISCORD_WEBHOOK_URL is set; logs otherwise. */
function defaultSink(app: () => FastifyInstance): (alert: RateAlert) => void {
  const url = process.env.DISCORD_WEBHOOK_URL;
  return (alert) => {
    const text = `org ${alert.org}: ${alert.count} ${alert.category} requests this minute (threshold ${alert.threshold})`;
    app().log.warn({ alert }, text);
    if (url)
      void fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ content: text }),
      }).catch(() => {});
  };
}

export interface MonitorAppOptions {
  clock?: Clock;
  store?: Store;
  alert?: (alert: RateAlert) => void;
  logger?: boolean;
}

/** Alerts for the limits this decision crossed for the first time in their window (core sets `crossed` once). */
function crossings(decision: Decision): RateAlert[] {
  return decision.limits
    .filter((status) => status.crossed)
    .map((status) => ({
      org: status.subject.slice("org:".length),
      category: decision.category ?? "",
      count: status.used,
      threshold: status.limit,
    }));
}

export async function createApp(options: MonitorAppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({ logger: options.logger ?? false });
  const alert = options.alert ?? defaultSink(() => app);
  const limiter = createLimiter({
    store: options.store ?? memoryStore(options.clock ? { clock: options.clock } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
    categories: {
      llm_call: { limits: [monitor("llm_call")] },
      collections: { limits: [monitor("collections")] },
      evaluations: { limits: [monitor("evaluations")] },
    },
    hooks: {
      onDecision: (decision) => {
        for (const crossing of crossings(decision)) alert(crossing);
      },
      // Fails open: the request proceeds, the error is logged.
      onStoreError: (error, operation) => app.log.error({ err: error, operation }, "rate monitor store failed"),
    },
  });
  await app.register(tollgate, {
    limiter,
    // In the real app the organisation comes from the authenticated session.
    subject: (request) => ({ org: String(request.headers["x-org-id"] ?? "unknown") }),
  });
  app.post("/api/llm", { config: { tollgate: { category: "llm_call" } } }, async () => ({ answer: "42" }));
  app.post("/api/collections", { config: { tollgate: { category: "collections" } } }, async () => ({ created: true }));
  app.post("/api/evaluations", { config: { tollgate: { category: "evaluations" } } }, async () => ({ queued: true }));
  return app;
}
