import { mkdtempSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Clock, Store } from "@tollgate/core";
import type { Db } from "@tollgate/db";
import type { FakeOpenAi } from "@tollgate/testkit";
import { ADMIN, startTestServer, type TestServer } from "./helpers.js";

/** Prices the gateway tests use: USD per 1M tokens. */
export const PRICES = {
  "gpt-4o-mini": { input: 0.15, output: 0.6 },
  "gpt-4o": { input: 2.5, output: 10, cachedInput: 1.25 },
  "text-embedding-3-small": { input: 0.02, output: 0 },
  runaway: { input: 1, output: 1 },
};

/** Plans for every gateway scenario; each test creates a key on the plan it needs. */
export const PLANS = {
  pro: {
    limits: [
      { name: "calls-minute", per: "key", algorithm: "fixed-window", limit: 100_000, window: "1m" },
      { name: "tokens-month", per: "key", algorithm: "quota", period: "month", limit: 10_000_000, unit: "tokens" },
    ],
  },
  /** $1.00 a month. */
  budget: {
    limits: [{ name: "spend-month", per: "key", algorithm: "quota", period: "month", limit: 1, unit: "usd" }],
  },
  /** 300 tokens a month: a stream passes it quickly. */
  tiny: {
    limits: [{ name: "tokens-month", per: "key", algorithm: "quota", period: "month", limit: 300, unit: "tokens" }],
  },
  /** One call a second: a 429 that waiting fixes. */
  persecond: {
    limits: [{ name: "second", per: "key", algorithm: "fixed-window", limit: 1, window: "1s" }],
  },
  /** One call a month: a 429 that waiting does not fix. */
  monthly: {
    limits: [{ name: "calls-month", per: "key", algorithm: "quota", period: "month", limit: 1 }],
  },
  /** Only gpt-4o-mini. */
  mini: {
    limits: [{ name: "calls-minute", per: "key", algorithm: "fixed-window", limit: 1000, window: "1m" }],
  },
};

export function gatewayConfigFile(upstream: FakeOpenAi, gateway: Record<string, unknown> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), "tollgate-gateway-"));
  const file = join(dir, "tollgate.json");
  writeFileSync(
    file,
    JSON.stringify({
      plans: PLANS,
      categories: { llm_call: { limits: [] } },
      gateway: {
        upstreams: { openai: { baseUrl: upstream.url, apiKeyEnv: "TOLLGATE_TEST_UPSTREAM_KEY" } },
        prices: PRICES,
        models: { mini: ["gpt-4o-mini"] },
        ...gateway,
      },
    }),
  );
  return file;
}

export interface Gateway extends TestServer {
  /** http://127.0.0.1:PORT/gateway/openai/v1 */
  baseURL: string;
}

/** A server with the gateway configured, listening on 127.0.0.1 (the OpenAI SDK needs real HTTP). */
export async function startGateway(
  upstream: FakeOpenAi,
  options: {
    gateway?: Record<string, unknown>;
    env?: Record<string, string>;
    clock?: Clock;
    db?: Db;
    store?: Store;
  } = {},
): Promise<Gateway> {
  process.env.TOLLGATE_TEST_UPSTREAM_KEY = "sk-upstream-secret-0123456789";
  const server = await startTestServer({
    file: gatewayConfigFile(upstream, options.gateway),
    env: { TOLLGATE_LOG_LEVEL: "warn", TOLLGATE__log__requests: "false", ...options.env },
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.db ? { db: options.db } : {}),
    ...(options.store ? { store: options.store } : {}),
  });
  // A deep backlog: the budget test opens a thousand connections at once.
  await server.app.listen({ port: 0, host: "127.0.0.1", backlog: 4096 });
  const { port } = server.app.server.address() as AddressInfo;
  return Object.assign(server, { baseURL: `http://127.0.0.1:${port}/gateway/openai/v1` });
}

/** A new API key on `plan`: its id and the secret the SDK sends. */
export async function createKey(server: TestServer, plan: string): Promise<{ id: string; secret: string }> {
  const reply = await server.call("POST", "/v1/admin/keys", ADMIN, { owner: "org:acme", plan, name: `test-${plan}` });
  if (reply.status !== 201 && reply.status !== 200) throw new Error(`key not created: ${reply.status} ${reply.raw}`);
  return { id: reply.body.id, secret: reply.body.secret };
}

/** What a key has used of each limit of its plan, by limit name. */
export async function usedBy(server: TestServer, keyId: string, plan: string): Promise<Record<string, number>> {
  const peek = await server.ctx.limiter.peek({ subject: { key: keyId }, plan, category: "llm_call" });
  return Object.fromEntries(peek.limits.map((status) => [status.name, status.used]));
}
