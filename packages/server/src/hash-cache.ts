import { sha256 } from "./secrets.js";

/**
 * SHA-256 of recently accepted secrets (bearer tokens, API keys). Hashing every request's
 * token was ~3 % of a /v1/check in the profile, and callers send the same few tokens over and
 * over. Only secrets that matched a catalog record are remembered, so a scanner cannot fill the
 * cache; revocation still applies because the record is looked up on every request.
 */
export class HashCache {
  private readonly hashes = new Map<string, string>();

  constructor(private readonly max: number) {}

  /** The secret's SHA-256 hex: from the cache, or computed. */
  hash(secret: string): string {
    return this.hashes.get(secret) ?? sha256(secret);
  }

  /** Remembers a secret that matched a record (oldest entry evicted when full). */
  remember(secret: string, hash: string) {
    if (this.hashes.has(secret)) return;
    if (this.hashes.size >= this.max) this.hashes.delete(this.hashes.keys().next().value as string);
    this.hashes.set(secret, hash);
  }
}
