/** What happened. Limit events name the limit and subject; store and ledger events the system part. */
export type AlertEventType =
  | "threshold_crossed"
  | "near_limit"
  | "projected_to_exceed"
  | "store_degraded"
  | "store_recovered"
  | "ledger_backlog";

export const ALERT_EVENT_TYPES: readonly AlertEventType[] = [
  "threshold_crossed",
  "near_limit",
  "projected_to_exceed",
  "store_degraded",
  "store_recovered",
  "ledger_backlog",
];

export type Severity = "info" | "warning" | "critical";
export const SEVERITIES: readonly Severity[] = ["info", "warning", "critical"];
export const severityRank = (severity: Severity) => SEVERITIES.indexOf(severity);

/**
 * One alert, as every sink receives it (the webhook body is exactly this JSON). `id` is the same
 * on every instance for the same rule, subject and window, so a receiver can deduplicate too.
 */
export interface AlertEvent {
  id: string;
  type: AlertEventType;
  /** ISO time the event happened (the counter store's time for limit events). */
  time: string;
  severity: Severity;
  /** `kind:id` of the charged counter (`org:acme`), or the system part (`store:redis`, `ledger`). */
  subject: string;
  category?: string;
  plan?: string;
  /** Limit name. */
  limit?: string;
  mode?: "enforce" | "monitor";
  unit?: string;
  /** Usage of the counter after the request that raised the event. */
  count?: number;
  /** The limit's value (the monitor's threshold). */
  threshold?: number;
  /** The window or calendar period the event belongs to (it fires once per window). */
  window?: { start: string; end: string };
  /** near_limit: the `alertAt` ratio reached. */
  ratio?: number;
  /** projected_to_exceed: usage extrapolated to the end of the period. */
  projected?: number;
  /** store_recovered: the id of the store_degraded event it resolves. */
  resolves?: string;
  /** Store and ledger events: what went wrong, in words (no secrets). */
  detail?: string;
  /** ledger_backlog: entries waiting, and the age of the oldest in seconds. */
  pending?: number;
  oldestAgeSeconds?: number;
  /** Store events: the instance that saw it (a store outage is seen by each instance on its own). */
  instance?: string;
}
