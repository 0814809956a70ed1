/**
 * @tollgate/alerts: monitor crossings, near-limit and projected overruns, store health and ledger
 * backlog, raised once per rule, subject and window (across instances through the counter store)
 * and delivered off the decision path to webhooks, Slack, Discord or the log.
 *
 * @example
 * import { createLimiter, memoryStore } from "@tollgate/core";
 * import { createAlerts } from "@tollgate/alerts";
 * const store = memoryStore();
 * const alerts = createAlerts({ store, config: { ops: { type: "webhook", url: "http://127.0.0.1:9099/hook" } } });
 * const limiter = createLimiter({
 *   store,
 *   hooks: alerts.hooks,
 *   limits: [{ name: "org-minute", per: "org", algorithm: "fixed-window", limit: 15, window: "1m", mode: "monitor", alert: "ops" }],
 * });
 */
export {
  type Alerts,
  type AlertsOptions,
  createAlerts,
  type LedgerBacklogReport,
  parseAlertsConfig,
} from "./alerts.js";
export {
  type AlertsConfig,
  type AlertsConfigInput,
  alertsConfigSchema,
  isRoute,
  type RouteConfig,
  routeIssues,
  type SinkConfig,
  type SinkConfigInput,
  sinkConfigSchema,
  unknownAlertIssues,
} from "./config.js";
export {
  DELIVERY_STATUSES,
  type DeliveryLog,
  type DeliveryQuery,
  type DeliveryRecord,
  type DeliveryStatus,
  memoryDeliveryLog,
} from "./deliveries.js";
export { fieldsOf, headline } from "./format.js";
export { type AlertLogger, consoleLogger, silentLogger } from "./logger.js";
export { type AlertMetrics, type AlertStats, type DeliveryOutcome, noopAlertMetrics } from "./metrics.js";
export { localOutageBoard, type OutageBoard, type OutageOpened } from "./outages.js";
export type { DeliveryOptions } from "./queue.js";
export { redactIn, redactUrl } from "./redact.js";
export { DEFAULT_ALERT_AT, windowOf } from "./rules.js";
export { signatureHeader, verifySignature } from "./signature.js";
export { type Attempt, discordMessage, type SendOutcome, type Sink, slackMessage } from "./sinks/index.js";
export { ALERT_EVENT_TYPES, type AlertEvent, type AlertEventType, SEVERITIES, type Severity } from "./types.js";
