// Use case 2: count requests per organisation, per endpoint category, per minute, and alert
// once per window when an organisation first crosses its threshold. Never blocks.
import { type Alerts, type AlertsConfigInput, createAlerts } from "@tollgate/alerts";
import { type Clock, createLimiter, type LimitSpec, memoryStore, type Store } from "@tollgate/core";
import { tollgate } from "@tollgate/http/fastify";
import Fastify, { type FastifyInstance } from "fastify";

/** Requests per minute per organisation before an alert. */
export const THRESHOLDS = { llm_call: 15, collections: 3, evaluations: 3 } as const;
export type Category = keyof typeof THRESHOLDS;

/** Counted per organisation (`per: org`): the alert names the same tenant the counter charged. */
const monitor = (category: Category): LimitSpec => ({
  name: `${category}-per-minute`,
  per: "org",
  algorithm: "fixed-window",
  limit: THRESHOLDS[category],
  window: "1m",
  mode: "monitor",
  failMode: "open",
  alert: "ops",
});

/**
 * Where alerts go, from the environment: Slack and/or Discord when their webhook URLs are set,
 * else the local receiver of `npm run receiver` (ALERT_WEBHOOK_URL, signed with ALERT_SECRET).
 */
export function sinksFromEnv(env: NodeJS.ProcessEnv = process.env): AlertsConfigInput {
  const chat: AlertsConfigInput = {};
  if (env.SLACK_WEBHOOK_URL) chat.slack = { type: "slack", url: env.SLACK_WEBHOOK_URL };
  if (env.DISCORD_WEBHOOK_URL) chat.discord = { type: "discord", url: env.DISCORD_WEBHOOK_URL };
  if (Object.keys(chat).length > 0) return { ...chat, ops: { sinks: Object.keys(chat) } };
  return {
    ops: {
      type: "webhook",
      url: env.ALERT_WEBHOOK_URL ?? "http://127.0.0.1:9099/hook",
      secret: env.ALERT_SECRET ?? "change-me-0123456789",
    },
  };
}

export interface MonitorAppOptions {
  clock?: Clock;
  /** The counter store; a Redis store makes each alert fire once across every instance. */
  store?: Store;
  /** Alert sinks; default {@link sinksFromEnv}. */
  sinks?: AlertsConfigInput;
  logger?: boolean;
}

export interface MonitorApp {
  app: FastifyInstance;
  alerts: Alerts;
}

export async function createApp(options: MonitorAppOptions = {}): Promise<MonitorApp> {
  const app = Fastify({ logger: options.logger ?? false });
  const store = options.store ?? memoryStore(options.clock ? { clock: options.clock } : {});
  const alerts = createAlerts({
    store,
    config: options.sinks ?? sinksFromEnv(),
    logger: app.log,
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const limiter = createLimiter({
    store,
    ...(options.clock ? { clock: options.clock } : {}),
    categories: {
      llm_call: { limits: [monitor("llm_call")] },
      collections: { limits: [monitor("collections")] },
      evaluations: { limits: [monitor("evaluations")] },
    },
    hooks: {
      ...alerts.hooks,
      // Fails open: the request proceeds, the error is logged.
      onStoreError: (error, operation) => {
        alerts.hooks.onStoreError(error, operation);
        app.log.error({ err: error, operation }, "rate monitor store failed");
      },
    },
  });
  app.addHook("onClose", async () => alerts.close());
  await app.register(tollgate, {
    limiter,
    // In the real app the organisation comes from the authenticated session.
    subject: (request) => ({ org: String(request.headers["x-org-id"] ?? "unknown") }),
  });
  app.post("/api/llm", { config: { tollgate: { category: "llm_call" } } }, async () => ({ answer: "42" }));
  app.post("/api/collections", { config: { tollgate: { category: "collections" } } }, async () => ({ created: true }));
  app.post("/api/evaluations", { config: { tollgate: { category: "evaluations" } } }, async () => ({ queued: true }));
  return { app, alerts };
}
