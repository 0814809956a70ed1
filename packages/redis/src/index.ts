/**
 * @tollgate/redis: the Redis and Redis Cluster store for `@tollgate/core`, and a Redis result
 * cache for `@tollgate/http`.
 *
 * @example
 * import { createLimiter } from "@tollgate/core";
 * import { redisStore } from "@tollgate/redis";
 * const limiter = createLimiter({
 *   store: redisStore({ url: "redis://127.0.0.1:6379" }),
 *   limits: [{ name: "minute", per: "key", algorithm: "fixed-window", limit: 10, window: "1m" }],
 * });
 */
export type { BatchOptions } from "./batcher.js";
export { type RedisCacheBackendOptions, redisCacheBackend } from "./cache-backend.js";
export type { DenyCacheOptions } from "./deny-cache.js";
export { counterKey, encodeId, slotOf, subjectKey, subjectTag } from "./keys.js";
export { type RedisStore, type RedisStoreOptions, redisStore } from "./store.js";
