import type { CacheBackend, CachedValue } from "@tollgate/core";
import type { Cluster, Redis } from "ioredis";
import { validatePrefix } from "./keys.js";
import { run, script } from "./script.js";

/** SET with the store time beside the value, so `storedAt` is Redis TIME, not the app's clock. */
const PUT = script(`
-- KEYS[1]: the entry; ARGV[1]: the value; ARGV[2]: TTL in ms
local t = redis.call('TIME')
local storedAt = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('SET', KEYS[1], string.format('%d', storedAt) .. ' ' .. ARGV[1], 'PX', ARGV[2])
return 1
`);

export interface RedisCacheBackendOptions {
  /** Key prefix, without `{` or `}`. Default "tg". */
  prefix?: string;
}

/**
 * Core's CacheBackend on Redis, for the HTTP result cache: entries expire in Redis (SET PX) and
 * carry the Redis time they were stored at. Keys arrive hashed already; each is its own slot.
 *
 * @example
 * const cache = redisCacheBackend(new Redis(process.env.TOLLGATE_REDIS_URL), { prefix: "tg" });
 * await cache.set(sha256hex, JSON.stringify(body), 60_000);
 */
export function redisCacheBackend(client: Redis | Cluster, options: RedisCacheBackendOptions = {}): CacheBackend {
  const prefix = validatePrefix(options.prefix ?? "tg");
  const keyOf = (key: string) => `${prefix}:cache:{${key}}`;
  return {
    async get(key): Promise<CachedValue | undefined> {
      const raw = await client.get(keyOf(key));
      if (raw === null) return undefined;
      const space = raw.indexOf(" ");
      return { storedAt: Number(raw.slice(0, space)), value: raw.slice(space + 1) };
    },
    async set(key, value, ttlMs) {
      const ttl = Math.max(1, Math.ceil(ttlMs));
      await run(client, PUT, [keyOf(key)], [value, String(ttl)]);
    },
    async delete(key) {
      await client.del(keyOf(key));
    },
  };
}
