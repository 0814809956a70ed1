import { type Db, openDb } from "@tollgate/db";
import { costMicroUsd } from "@tollgate/llm";
import {
  type FakeOpenAi,
  missing,
  type RedisServer,
  redisServerBinary,
  startFakeOpenAi,
  startRedis,
} from "@tollgate/testkit";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createKey, type Gateway, PRICES, startGateway, usedBy } from "./gateway-helpers.js";

const CALLS = 1000;
const MAX_TOKENS = 300;
const BUDGET_MICRO_USD = 1_000_000; // the "budget" plan: $1.00 a month
const messages = [{ role: "user" as const, content: "Draft a release note." }];
const PROMPT = Math.ceil(JSON.stringify(messages).length / 4);
const MODEL = "gpt-4o";
const price = PRICES[MODEL];
/** The most one call can cost: its whole prompt and max_tokens of output. */
const WORST_CALL = costMicroUsd(price, { input: PROMPT, output: MAX_TOKENS, cached: 0 });

/** Outputs spread over 0..MAX_TOKENS, so settles refund different amounts while others reserve. */
const outputFor = (requested: number, index: number) => (index * 7919) % (requested + 1);

/**
 * 1,000 calls from one key, all in flight together, half streamed, against a $1.00 monthly
 * budget: what the upstream reported for the calls that went through, priced, must stay within
 * the budget plus at most one call's worst case; and the counter must hold exactly that.
 */
async function spendRace(gateways: Gateway[], upstream: FakeOpenAi, label: string) {
  const key = await createKey(gateways[0] as Gateway, "budget");
  // Every instance must know the key before the race (the catalog is polled).
  for (const gateway of gateways) {
    await vi.waitFor(() => expect(gateway.ctx.catalog.keysById.has(key.id)).toBe(true), { timeout: 10_000 });
  }
  const before = upstream.calls.length;
  const clients = gateways.map(
    (gateway) => new OpenAI({ apiKey: key.secret, baseURL: gateway.baseURL, maxRetries: 0 }),
  );
  const outcomes = await Promise.all(
    Array.from({ length: CALLS }, async (_, i) => {
      const client = clients[i % clients.length] as OpenAI;
      try {
        if (i % 2 === 0) {
          await client.chat.completions.create({ model: MODEL, messages, max_tokens: MAX_TOKENS });
        } else {
          const stream = await client.chat.completions.create({
            model: MODEL,
            messages,
            max_tokens: MAX_TOKENS,
            stream: true,
          });
          for await (const _chunk of stream);
        }
        return "ok";
      } catch (error) {
        if (error instanceof OpenAI.RateLimitError) return "denied";
        throw error;
      }
    }),
  );
  const served = upstream.calls.slice(before);
  const spent = served.reduce(
    (sum, call) =>
      sum + costMicroUsd(price, { input: call.usage?.prompt ?? 0, output: call.usage?.output ?? 0, cached: 0 }),
    0,
  );
  const allowed = outcomes.filter((o) => o === "ok").length;
  console.log(
    `[gateway ${label}] ${CALLS} concurrent calls, $1.00 budget: ${allowed} served, ${CALLS - allowed} denied; ` +
      `settled spend $${(spent / 1e6).toFixed(6)} (budget + one worst-case call = $${((BUDGET_MICRO_USD + WORST_CALL) / 1e6).toFixed(6)})`,
  );
  expect(served.length).toBe(allowed);
  expect(allowed).toBeGreaterThan(0);
  expect(allowed).toBeLessThan(CALLS);
  expect(spent).toBeLessThanOrEqual(BUDGET_MICRO_USD + WORST_CALL);
  // What the counter holds is what was settled: no reservation left over, none lost.
  await vi.waitFor(
    async () => expect((await usedBy(gateways[0] as Gateway, key.id, "budget"))["spend-month"]).toBe(spent),
    { timeout: 10_000 },
  );
}

describe("1,000 concurrent calls against a $1.00 monthly budget", () => {
  let upstream: FakeOpenAi;
  beforeAll(async () => {
    upstream = await startFakeOpenAi({ outputFor, gzip: false });
  });
  afterAll(async () => {
    await upstream?.close();
  });

  it("memory store, one gateway", async () => {
    const gateway = await startGateway(upstream, { clock: { now: () => Date.now() } });
    try {
      await spendRace([gateway], upstream, "memory");
    } finally {
      await gateway.close();
    }
  }, 300_000);

  describe.skipIf(missing(redisServerBinary, "redis-server"))("Redis, three gateway instances", () => {
    let redis: RedisServer;
    let db: Db;
    beforeAll(async () => {
      redis = await startRedis();
      db = await openDb({ dir: "memory://" });
    });
    afterAll(async () => {
      await db?.close();
      await redis?.stop();
    });

    it("shares one budget", async () => {
      const gateways: Gateway[] = [];
      try {
        for (let i = 0; i < 3; i++) {
          gateways.push(
            await startGateway(upstream, {
              db,
              clock: { now: () => Date.now() },
              env: {
                TOLLGATE_REDIS_URL: redis.url,
                TOLLGATE__catalog__pollInterval: "200ms",
                // Exactness is the subject, not latency: a loaded 2-core machine must not turn
                // slow answers into fail-open ones.
                TOLLGATE__stores__timeoutMs: "5000",
              },
            }),
          );
        }
        await spendRace(gateways, upstream, "redis x3");
      } finally {
        for (const gateway of gateways) await gateway.close();
      }
    }, 300_000);
  });
});
