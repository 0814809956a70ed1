import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { FastifyReply, FastifyRequest } from "fastify";

/**
 * Dashboard sessions: a signed, stateless cookie naming the admin token it was opened with (its
 * id, never the token) and when it expires. Every request re-reads that token from the catalog,
 * so revoking the token or changing its role applies to open sessions at once, on every
 * instance, with nothing stored. The signing key is derived from the server's shared secret
 * (the one that signs decision ids), so all instances accept each other's cookies.
 */

export const SESSION_COOKIE = "tollgate_session";
/** The header every cookie-authenticated change must carry (see `csrfProblem`). */
export const CSRF_HEADER = "x-tollgate-csrf";

export interface SessionClaims {
  tokenId: string;
  expiresAt: number;
}

export class Sessions {
  private readonly key: Buffer;
  constructor(
    secret: string,
    readonly lifetimeMs: number,
    private readonly now: () => number,
  ) {
    this.key = createHmac("sha256", secret).update("tollgate dashboard session v1").digest();
  }

  private sign(payload: string): Buffer {
    return createHmac("sha256", this.key).update(payload).digest();
  }

  /** A cookie value for `tokenId`: base64url(payload).base64url(HMAC). */
  issue(tokenId: string): { value: string; expiresAt: number } {
    const expiresAt = this.now() + this.lifetimeMs;
    const payload = Buffer.from(
      JSON.stringify({ t: tokenId, e: expiresAt, n: randomBytes(8).toString("base64url") }),
    ).toString("base64url");
    return { value: `${payload}.${this.sign(payload).toString("base64url")}`, expiresAt };
  }

  /** The claims of a valid, unexpired cookie value; undefined for anything else. */
  verify(value: string | undefined): SessionClaims | undefined {
    if (!value || value.length > 1024) return undefined;
    const [payload, signature] = value.split(".");
    if (!payload || !signature) return undefined;
    const expected = this.sign(payload);
    const given = Buffer.from(signature, "base64url");
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    try {
      const claims = JSON.parse(Buffer.from(payload, "base64url").toString()) as { t?: unknown; e?: unknown };
      if (typeof claims.t !== "string" || typeof claims.e !== "number" || claims.e <= this.now()) return undefined;
      return { tokenId: claims.t, expiresAt: claims.e };
    } catch {
      return undefined;
    }
  }
}

/** The session cookie's value in a request, if any. */
export function sessionCookie(request: FastifyRequest): string | undefined {
  const header = request.headers.cookie;
  if (typeof header !== "string") return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === SESSION_COOKIE) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** Sets (or, with `value` undefined, clears) the cookie: HttpOnly, SameSite=Strict, Secure over HTTPS. */
export function setSessionCookie(
  request: FastifyRequest,
  reply: FastifyReply,
  value: string | undefined,
  maxAgeMs = 0,
) {
  const attributes = [
    `${SESSION_COOKIE}=${value ?? ""}`,
    "Path=/",
    "HttpOnly",
    "SameSite=Strict",
    `Max-Age=${value === undefined ? 0 : Math.floor(maxAgeMs / 1000)}`,
  ];
  if (request.protocol === "https") attributes.push("Secure");
  reply.header("set-cookie", attributes.join("; "));
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * Why a cookie-authenticated request must be refused as a possible cross-site request forgery,
 * or undefined when it is safe. The cookie is SameSite=Strict already; on top of that a change
 * must carry the custom `x-tollgate-csrf` header (a cross-site page cannot send it without a CORS
 * preflight this server never grants), and an `Origin`, when sent, must be this server's own.
 */
export function csrfProblem(request: FastifyRequest): string | undefined {
  if (SAFE_METHODS.has(request.method)) return undefined;
  if (request.headers[CSRF_HEADER] !== "1") {
    return `Changes made with a dashboard session must send the header "${CSRF_HEADER}: 1" (protection against cross-site requests).`;
  }
  const origin = request.headers.origin;
  if (typeof origin === "string" && origin !== "null") {
    const own = `${request.protocol}://${request.host}`;
    if (origin !== own) return `Origin ${origin} is not this server (${own}): cross-site changes are refused.`;
  }
  return undefined;
}
