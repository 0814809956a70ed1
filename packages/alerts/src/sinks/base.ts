import type { SinkConfig } from "../config.js";
import { type AlertEvent, type Severity, severityRank } from "../types.js";

export interface SinkBase {
  severity: Severity;
  accepts(event: Pick<AlertEvent, "type" | "severity">): boolean;
}

/** The routing part every sink shares: a severity floor and an optional event-type filter. */
export function sinkBase(config: Pick<SinkConfig, "severity" | "events">): SinkBase {
  const floor = severityRank(config.severity ?? "info");
  const only = config.events ? new Set(config.events) : undefined;
  return {
    severity: config.severity ?? "info",
    accepts: (event) => severityRank(event.severity) >= floor && (only === undefined || only.has(event.type)),
  };
}
