// Use case 3: API keys on tiers, each with a calendar-month allowance and a per-minute rate
// (a token bucket with a burst for premium tiers). One decision checks both limits at once, so
// a request denied by one never spends the other, and there is no check-then-increment race.
import { createHash } from "node:crypto";
import { type Clock, createLimiter, type Limiter, type LimitSpec, memoryStore, type Store } from "@tollgate/core";
import { readUsage } from "@tollgate/http";
import { rateLimit, type TollgateEnv } from "@tollgate/http/hono";
import { Hono } from "hono";

export interface Tier {
  month: number;
  minute: number;
  /** Premium tiers: short bursts above the steady per-minute rate. */
  burst?: number;
}

export const TIERS: Record<string, Tier> = {
  free: { month: 1_000, minute: 10 },
  basic: { month: 10_000, minute: 50 },
  pro: { month: 100_000, minute: 200, burst: 400 },
  enterprise: { month: 1_000_000, minute: 1_000, burst: 2_000 },
};

function planLimits(tier: Tier): LimitSpec[] {
  const minute: LimitSpec =
    tier.burst === undefined
      ? { name: "minute", per: "key", algorithm: "sliding-window", limit: tier.minute, window: "1m" }
      : { name: "minute", per: "key", algorithm: "token-bucket", limit: tier.minute, window: "1m", burst: tier.burst };
  return [minute, { name: "month", per: "key", algorithm: "quota", period: "month", limit: tier.month }];
}

/** An issued key. Only the SHA-256 of the secret is kept. */
export interface ApiKey {
  id: string;
  tier: string;
  active: boolean;
  /** Per-key override: a custom tier (plan) for this key only. */
  override?: Tier;
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

export interface TiersAppOptions {
  clock?: Clock;
  store?: Store;
  tiers?: Record<string, Tier>;
  /** Raw secret -> key. Demo keys when absent. */
  keys?: Record<string, ApiKey>;
}

const DEMO_KEYS: Record<string, ApiKey> = {
  tg_free_demo: { id: "key_free", tier: "free", active: true },
  tg_pro_demo: { id: "key_pro", tier: "pro", active: true },
  tg_revoked_demo: { id: "key_old", tier: "basic", active: false },
};

export function createApp(options: TiersAppOptions = {}): { app: Hono<TollgateEnv>; limiter: Limiter } {
  const tiers = options.tiers ?? TIERS;
  const byHash = new Map(Object.entries(options.keys ?? DEMO_KEYS).map(([secret, key]) => [sha256(secret), key]));
  const plans = Object.fromEntries(Object.entries(tiers).map(([name, tier]) => [name, { limits: planLimits(tier) }]));
  for (const key of byHash.values()) {
    if (key.override) plans[`key-${key.id}`] = { limits: planLimits(key.override) };
  }
  const limiter = createLimiter({
    store: options.store ?? memoryStore(options.clock ? { clock: options.clock } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
    plans,
  });
  // Unknown and inactive keys are handled in one place: the key lookup.
  const keyOf = (secret: string | undefined) => {
    const key = secret ? byHash.get(sha256(secret)) : undefined;
    return key?.active ? key : undefined;
  };
  const planOf = (key: ApiKey) => (key.override ? `key-${key.id}` : key.tier);
  const secretOf = (header: string | undefined) => header?.replace(/^Bearer\s+/i, "");

  const app = new Hono<TollgateEnv>();
  // Wired when the app is built, before any route: never after start-up.
  app.use(
    "/v1/*",
    rateLimit(limiter, {
      authorize: (c) => (keyOf(secretOf(c.req.header("authorization"))) ? true : "invalid_key"),
      subject: (c) => ({ key: (keyOf(secretOf(c.req.header("authorization"))) as ApiKey).id }),
      plan: (c) => planOf(keyOf(secretOf(c.req.header("authorization"))) as ApiKey),
      // The status endpoint reads usage; it does not spend a call.
      skip: (c) => c.req.path === "/v1/status",
      headers: { legacy: true },
    }),
  );
  app.post("/v1/complete", (c) => c.json({ text: "Hello from the model." }));
  app.get("/v1/status", async (c) => {
    const key = keyOf(secretOf(c.req.header("authorization"))) as ApiKey;
    const report = await readUsage(limiter, { subject: { key: key.id }, plan: planOf(key) });
    return c.json({ key: key.id, tier: key.tier, limits: report.limits });
  });
  return { app, limiter };
}
