import type { CompiledLimit } from "../config.js";
import { type Limit, parseLimit } from "../limit.js";

/** One limit of each algorithm (and a monitor), small enough that random traffic hits every edge. */
export const CONFORMANCE_LIMITS: readonly CompiledLimit[] = [
  { name: "fw", per: "user", algorithm: "fixed-window", limit: 5, window: "10s" },
  { name: "sw", per: "user", algorithm: "sliding-window", limit: 7, window: "10s" },
  { name: "tb", per: "user", algorithm: "token-bucket", limit: 3, window: "1s", burst: 6, unit: "tokens" },
  { name: "q", per: "org", algorithm: "quota", period: "day", limit: 20, timeZone: "America/New_York" },
  { name: "qm", per: "org", algorithm: "quota", period: "month", limit: 9, unit: "tokens" },
  { name: "cc", per: "user", algorithm: "concurrency", limit: 2, window: "5s" },
  { name: "mon", per: "org", algorithm: "fixed-window", limit: 3, window: "10s", mode: "monitor" },
  { name: "swm", per: "user", algorithm: "sliding-window", limit: 4, window: "3s", mode: "monitor" },
  // weighted costs (tokens) on an exact rolling window, and a monitor that runs past its limit
  { name: "sl", per: "user", algorithm: "sliding-log", limit: 9, window: "10s", unit: "tokens" },
  { name: "slm", per: "org", algorithm: "sliding-log", limit: 3, window: "3s", mode: "monitor" },
].map((spec) => {
  const limit: Limit = parseLimit(spec);
  return Object.freeze({ limit, counter: `conformance|${limit.name}` });
});

/** Subject ids that stores must keep apart and within one slot: separators, braces, unicode, long. */
export const HOSTILE_IDS: readonly string[] = [
  "a",
  "b",
  "{a}",
  "a}:{b",
  "user:a",
  "ü-名前-🚀",
  "x".repeat(256),
  "a\u0000b",
];
