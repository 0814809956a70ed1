import { createHash } from "node:crypto";
import { type CacheBackend, type CachedValue, type Clock, parseDuration, systemClock } from "@tollgate/core";

/**
 * The in-process CacheBackend: a Map with lazy expiry and a size bound (oldest entry dropped first).
 *
 * @example
 * const cache = resultCache({ backend: memoryCache() });
 */
export function memoryCache(options: { clock?: Clock; maxEntries?: number } = {}): CacheBackend & { size: number } {
  const clock = options.clock ?? systemClock;
  const maxEntries = options.maxEntries ?? 10_000;
  const entries = new Map<string, CachedValue & { expiresAt: number }>();
  return {
    async get(key) {
      const entry = entries.get(key);
      if (!entry) return undefined;
      if (entry.expiresAt <= clock.now()) {
        entries.delete(key);
        return undefined;
      }
      return { value: entry.value, storedAt: entry.storedAt };
    },
    async set(key, value, ttlMs) {
      const now = clock.now();
      entries.delete(key);
      entries.set(key, { value, storedAt: now, expiresAt: now + ttlMs });
      while (entries.size > maxEntries) entries.delete(entries.keys().next().value as string);
    },
    async delete(key) {
      entries.delete(key);
    },
    get size() {
      return entries.size;
    },
  };
}

/**
 * The normal form of a cache input, so equivalent URLs share one entry: host lower-cased,
 * default port, fragment and empty query dropped, query parameters sorted. Non-URLs are trimmed.
 */
export function normalizeInput(input: string): string {
  const text = input.trim();
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return text;
  }
  url.hash = "";
  url.searchParams.sort();
  return url.toString();
}

/** SHA-256 hex of the normalised input: no caller text ever reaches the backend's key space. */
export function cacheKey(input: string): string {
  return createHash("sha256").update(normalizeInput(input)).digest("hex");
}

/** A result and where it came from; the two metadata fields are meant to be copied into the response. */
export interface CacheResult<T> {
  value: T;
  cache_hit: boolean;
  cache_age_seconds: number;
}

export interface ResultCacheOptions {
  /** Where entries live. Absent: every call computes (pass-through), as with no store configured. */
  backend?: CacheBackend | null;
  /** Time to live, `1h` or milliseconds. Default one hour. */
  ttl?: string | number;
  /** Age is measured with this clock against the backend's `storedAt`. */
  clock?: Clock;
  /** A backend failure (the cache then passes through). Must not throw. */
  onError?: (error: unknown, operation: "get" | "set") => void;
}

export interface ResultCache {
  /** The cached value, or runs `compute` once for all concurrent callers of the same input and stores it. */
  get<T>(input: string, compute: () => Promise<T>, options?: { forceRefresh?: boolean }): Promise<CacheResult<T>>;
  /** The cached entry without computing (to let a cache hit skip the quota). */
  lookup<T>(input: string): Promise<CacheResult<T> | undefined>;
}

/**
 * Caches expensive idempotent results (a scrape, an LLM summary) under the SHA-256 of the
 * normalised input. Concurrent misses for one input share one computation (single flight). A
 * failing or absent backend makes it a pass-through: the app keeps serving.
 *
 * @example
 * const cache = resultCache({ backend: memoryCache(), ttl: "1h" });
 * const { value, cache_hit, cache_age_seconds } = await cache.get(url, () => scrape(url), { forceRefresh });
 */
export function resultCache(options: ResultCacheOptions = {}): ResultCache {
  const { backend, onError } = options;
  const clock = options.clock ?? systemClock;
  const ttlMs = options.ttl === undefined ? 3_600_000 : parseDuration(options.ttl, "ttl");
  const inFlight = new Map<string, Promise<unknown>>();

  async function read<T>(key: string): Promise<CacheResult<T> | undefined> {
    if (!backend) return undefined;
    try {
      const entry = await backend.get(key);
      if (!entry) return undefined;
      const age = Math.max(0, Math.floor((clock.now() - entry.storedAt) / 1000));
      return { value: JSON.parse(entry.value) as T, cache_hit: true, cache_age_seconds: age };
    } catch (error) {
      onError?.(error, "get");
      return undefined;
    }
  }

  return {
    lookup: (input) => read(cacheKey(input)),
    async get<T>(input: string, compute: () => Promise<T>, { forceRefresh = false } = {}): Promise<CacheResult<T>> {
      const key = cacheKey(input);
      if (!forceRefresh) {
        const hit = await read<T>(key);
        if (hit) return hit;
      }
      let flight = inFlight.get(key) as Promise<T> | undefined;
      if (flight === undefined) {
        const started: Promise<T> = (async () => {
          try {
            const value = await compute();
            if (backend) {
              await backend.set(key, JSON.stringify(value), ttlMs).catch((error: unknown) => onError?.(error, "set"));
            }
            return value;
          } finally {
            inFlight.delete(key);
          }
        })();
        inFlight.set(key, started);
        flight = started;
      }
      return { value: await flight, cache_hit: false, cache_age_seconds: 0 };
    },
  };
}
