import type { AlertEventType } from "./types.js";

export type DeliveryOutcome = "delivered" | "retried" | "dead" | "dropped";

/**
 * Counters alerts report. The server maps them to Prometheus; `alerts.stats()` keeps totals
 * in process either way. Labels are sink names and event types, never subjects or URLs.
 */
export interface AlertMetrics {
  /** An event passed deduplication and was routed. */
  event(type: AlertEventType): void;
  delivery(sink: string, type: AlertEventType, outcome: DeliveryOutcome): void;
  attempt(sink: string, seconds: number): void;
  queueDepth(depth: number): void;
}

export const noopAlertMetrics: AlertMetrics = { event() {}, delivery() {}, attempt() {}, queueDepth() {} };

export interface AlertStats {
  events: number;
  delivered: number;
  retried: number;
  dead: number;
  dropped: number;
  /** Deliveries queued, in flight or waiting for a retry. */
  queued: number;
  inFlight: number;
  /** Limit events whose route names no sink (a route removed while limits still name it). */
  unroutable: number;
}
