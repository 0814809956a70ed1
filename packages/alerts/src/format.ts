import type { AlertEvent } from "./types.js";

const TITLES: Record<AlertEvent["type"], string> = {
  threshold_crossed: "Threshold crossed",
  near_limit: "Near limit",
  projected_to_exceed: "Projected to exceed",
  store_degraded: "Counter store degraded",
  store_recovered: "Counter store recovered",
  ledger_backlog: "Usage ledger backlog",
};

/** 1234567 -> "1,234,567" (Intl formatting costs microseconds per call, on every alert). */
const number = (n: number | undefined) => (n === undefined ? "?" : String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ","));
const percent = (ratio: number | undefined) => `${Math.round((ratio ?? 0) * 100)}%`;

export const titleOf = (event: AlertEvent) => TITLES[event.type];

/** One sentence a person reads first, in chat and in the log. */
export function headline(event: AlertEvent): string {
  const where = [event.category, event.limit].filter(Boolean).join(" / ");
  switch (event.type) {
    case "threshold_crossed":
      return `${event.subject} crossed ${where}: ${number(event.count)} requests, threshold ${number(event.threshold)} in this window`;
    case "near_limit":
      return `${event.subject} reached ${percent(event.ratio)} of ${where}: ${number(event.count)} of ${number(event.threshold)}`;
    case "projected_to_exceed":
      return `${event.subject} is on course for ${number(event.projected)} of ${number(event.threshold)} on ${where} by the end of the period (${number(event.count)} so far)`;
    case "store_degraded":
      return `Counter store ${event.subject} is failing; decisions are degraded (failMode or fallback)${event.detail ? `: ${event.detail}` : ""}`;
    case "store_recovered":
      return `Counter store ${event.subject} answers again; decisions are exact again`;
    case "ledger_backlog":
      return `Usage ledger backlog: ${number(event.pending)} entries waiting, oldest ${number(event.oldestAgeSeconds)} s`;
  }
}

/** Label/value pairs for chat cards: what is set on the event, in a stable order. */
export function fieldsOf(event: AlertEvent): [string, string][] {
  const fields: [string, string | undefined][] = [
    ["Subject", event.subject],
    ["Category", event.category],
    ["Limit", event.limit],
    ["Count", event.count === undefined ? undefined : number(event.count)],
    ["Threshold", event.threshold === undefined ? undefined : number(event.threshold)],
    ["At", event.ratio === undefined ? undefined : percent(event.ratio)],
    ["Projected", event.projected === undefined ? undefined : number(event.projected)],
    ["Plan", event.plan],
    ["Window", event.window ? `${event.window.start} – ${event.window.end}` : undefined],
    ["Instance", event.instance],
  ];
  return fields.filter((f): f is [string, string] => f[1] !== undefined);
}
