import type { SinkConfig } from "../config.js";
import { headline } from "../format.js";
import type { AlertLogger } from "../logger.js";
import { sinkBase } from "./base.js";
import type { Sink } from "./types.js";

/** Writes the event as one structured log line (warn; error for critical). Never fails. */
export function logSink(name: string, config: Extract<SinkConfig, { type: "log" }>, logger: AlertLogger): Sink {
  return {
    name,
    type: "log",
    target: "log",
    ...sinkBase(config),
    deliverNow(event) {
      const line = { alert: event };
      if (event.severity === "critical") logger.error(line, headline(event));
      else logger.warn(line, headline(event));
      return { ok: true };
    },
    async send(event, attempt) {
      return this.deliverNow?.(event, attempt) ?? { ok: true };
    },
  };
}
