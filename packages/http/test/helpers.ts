import {
  createLimiter,
  type LimiterOptions,
  type LimitSpec,
  manualClock,
  memoryStore,
  type Store,
} from "@tollgate/core";
import { parseList } from "structured-headers";
import { expect } from "vitest";

/** 2026-01-01T00:00:30Z: half way through a minute, so a 1 m fixed window resets in 30 s. */
export const START = Date.UTC(2026, 0, 1, 0, 0, 30);

export const perIpMinute = (limit = 2): LimitSpec => ({
  name: "minute",
  per: "ip",
  algorithm: "fixed-window",
  limit,
  window: "1m",
});

export function setup(config: Partial<LimiterOptions> = {}) {
  const clock = manualClock(START);
  const limiter = createLimiter({ store: memoryStore({ clock }), clock, limits: [perIpMinute()], ...config });
  return { clock, limiter };
}

/** A store whose every call fails, as a Redis outage looks to the limiter. */
export function brokenStore(): Store {
  const fail = () => {
    throw new Error("ECONNREFUSED");
  };
  return { name: "broken", decide: fail, adjust: fail, release: fail, reset: fail };
}

/** A logger (and console spy) that records every line, to prove secrets never reach a log. */
export function captureLogs() {
  const lines: string[] = [];
  const logger = { warn: (message: string) => lines.push(message) };
  return { lines, logger };
}

/** Parses the IETF fields with a third-party Structured Fields parser and checks their shape. */
export function parseRateLimit(headers: Record<string, string | string[] | undefined> | Headers) {
  const get = (name: string) =>
    headers instanceof Headers ? (headers.get(name) ?? undefined) : (headers[name.toLowerCase()] as string | undefined);
  const policy = parseList(get("ratelimit-policy") ?? "");
  const state = parseList(get("ratelimit") ?? "");
  const result: Record<string, { q: number; w?: number; r: number; t: number }> = {};
  for (const [name, params] of policy) {
    expect(typeof name).toBe("string");
    result[name as string] = { q: params.get("q") as number, w: params.get("w") as number, r: -1, t: -1 };
  }
  for (const [name, params] of state) {
    const entry = result[name as string];
    expect(entry, `RateLimit names a policy: ${String(name)}`).toBeDefined();
    if (entry) {
      entry.r = params.get("r") as number;
      entry.t = params.get("t") as number;
    }
  }
  return result;
}

export function expectProblem(body: unknown, status: number) {
  expect(body).toMatchObject({
    type: expect.any(String),
    title: expect.any(String),
    status,
    detail: expect.any(String),
  });
}
