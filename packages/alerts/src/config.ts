import type { Issue } from "@tollgate/core";
import { z } from "zod";
import { ALERT_EVENT_TYPES, SEVERITIES } from "./types.js";

const url = z.url({ protocol: /^https?$/, error: "must be an http(s) URL" });
const severity = z.enum(SEVERITIES).describe("Least severity this sink receives (info < warning < critical).");
const events = z.array(z.enum(ALERT_EVENT_TYPES)).min(1).describe("Only these event types (default: all).");
const common = {
  severity: severity.default("info"),
  events: events.optional(),
};

/** One sink. `url` holds a secret for Slack and Discord (and often webhooks): it is never shown whole. */
export const sinkConfigSchema = z.discriminatedUnion("type", [
  z.strictObject({
    type: z.literal("webhook"),
    url,
    /** HMAC-SHA256 key for `X-Tollgate-Signature`. */
    secret: z.string().min(16).optional(),
    /** Extra request headers (e.g. an authorization header the receiver wants). */
    headers: z.record(z.string(), z.string()).optional(),
    ...common,
  }),
  z.strictObject({ type: z.literal("slack"), url, ...common }),
  z.strictObject({ type: z.literal("discord"), url, ...common }),
  z.strictObject({ type: z.literal("log"), ...common }),
]);

/** A route naming several sinks: a limit's `alert` may name a route or a single sink. */
export const routeConfigSchema = z.strictObject({ sinks: z.array(z.string().min(1)).min(1) });

/** `alerts:` as a whole; each entry is checked by {@link parseAlertsConfig} (routes have `sinks`). */
export const alertsConfigSchema = z.record(
  z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, "alert names are 1-64 letters, digits, '_', '.', '-'"),
  z.unknown(),
);

export type SinkConfig = z.output<typeof sinkConfigSchema>;
export type SinkConfigInput = z.input<typeof sinkConfigSchema>;
export type RouteConfig = z.output<typeof routeConfigSchema>;
export type AlertsConfig = Record<string, SinkConfig | RouteConfig>;
export type AlertsConfigInput = Record<string, SinkConfigInput | RouteConfig>;

export const isRoute = (entry: SinkConfig | RouteConfig): entry is RouteConfig => "sinks" in entry;

/**
 * Problems a schema cannot see: a route naming an unknown sink, or naming another route.
 * Paths are `alerts.NAME.sinks[i]`. Works on raw entries too (an invalid sink still exists).
 */
export function routeIssues(config: Record<string, unknown>, prefix = "alerts"): Issue[] {
  const issues: Issue[] = [];
  const routeLike = (entry: unknown): entry is { sinks: unknown } =>
    typeof entry === "object" && entry !== null && "sinks" in entry;
  for (const [name, entry] of Object.entries(config)) {
    if (!routeLike(entry) || !Array.isArray(entry.sinks)) continue;
    entry.sinks.forEach((sink: unknown, index: number) => {
      if (typeof sink !== "string") return;
      const target = config[sink];
      const path = `${prefix}.${name}.sinks[${index}]`;
      if (target === undefined) issues.push({ path, message: `no alert sink named "${sink}"` });
      else if (routeLike(target)) issues.push({ path, message: `"${sink}" is a route; a route lists sinks` });
    });
  }
  return issues;
}

interface LimitsLike {
  limits?: unknown;
  plans?: Record<string, { limits?: unknown } | undefined>;
  categories?: Record<string, { limits?: unknown } | undefined>;
}

/**
 * Every limit whose `alert` names no configured sink or route, with its path
 * (`categories.llm_call.limits[0].alert`): config loading and admin writes reject them.
 */
export function unknownAlertIssues(limits: LimitsLike, known: ReadonlySet<string>): Issue[] {
  const issues: Issue[] = [];
  const check = (list: unknown, path: string) => {
    if (!Array.isArray(list)) return;
    list.forEach((limit, index) => {
      const alert = (limit as { alert?: unknown } | null)?.alert;
      if (typeof alert !== "string" || known.has(alert)) return;
      const names = [...known];
      issues.push({
        path: `${path}[${index}].alert`,
        message:
          names.length === 0
            ? `no alert sink named "${alert}": add it under \`alerts:\` in the configuration`
            : `no alert sink named "${alert}" (configured: ${names.join(", ")})`,
      });
    });
  };
  check(limits.limits, "limits");
  for (const [name, plan] of Object.entries(limits.plans ?? {})) check(plan?.limits, `plans.${name}.limits`);
  for (const [name, category] of Object.entries(limits.categories ?? {})) {
    check(category?.limits, `categories.${name}.limits`);
  }
  return issues;
}
