import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/** SHA-256 hex of a secret: what the catalog stores instead of the secret. */
export const sha256 = (secret: string) => createHash("sha256").update(secret).digest("hex");

/** Constant-time equality of two hex digests (length is public: both are SHA-256). */
export function sameDigest(a: string, b: string): boolean {
  const left = Buffer.from(a, "hex");
  const right = Buffer.from(b, "hex");
  return left.length === right.length && timingSafeEqual(left, right);
}

/** 32 random bytes as base64url: 256 bits, unguessable, URL and header safe. */
export const randomSecret = () => randomBytes(32).toString("base64url");

/** A short random id (`key_3f9a...`): 80 bits, enough to never collide in a catalog. */
export const randomId = (prefix: string) => `${prefix}_${randomBytes(10).toString("hex")}`;

/** A new API key secret, recognisable by its prefix in leaked-secret scanners. */
export const newApiKeySecret = () => `tg_live_${randomSecret()}`;
/** A new admin/service token. */
export const newToken = (role: string) => `tg_${role.slice(0, 3)}_${randomSecret()}`;

/** The first characters of a secret, safe to show so people can tell keys apart. */
export const displayPrefix = (secret: string) => `${secret.slice(0, 12)}...`;

export const hmac = (secret: string, data: string) => createHmac("sha256", secret).update(data).digest("base64url");
