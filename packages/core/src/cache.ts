/** A cached result and when it was stored (ms since the epoch, the backend's clock). */
export interface CachedValue {
  value: string;
  storedAt: number;
}

/**
 * Where the result cache of expensive idempotent calls keeps its entries (memory in
 * `@tollgate/http`, Redis in `@tollgate/redis`). Keys arrive already hashed (SHA-256 hex), so
 * no caller input reaches the backend's key space. Backends expire entries themselves.
 */
export interface CacheBackend {
  get(key: string): Promise<CachedValue | undefined>;
  set(key: string, value: string, ttlMs: number): Promise<void>;
  delete(key: string): Promise<void>;
}
