/**
 * Response headers the document describes, once each (components.headers), referenced by the
 * responses that send them.
 */
export const RESPONSE_HEADERS = {
  "Retry-After": {
    description: "Whole seconds to wait before retrying (RFC 9110 §10.2.3); the same value as the body's `retryAfter`.",
    schema: { type: "integer", minimum: 1 },
    example: 30,
  },
  "WWW-Authenticate": {
    description: "The authentication scheme to use: a bearer token (RFC 6750).",
    schema: { type: "string" },
    example: 'Bearer realm="tollgate"',
  },
  RateLimit: {
    description:
      "The decision's remaining quota per enforced limit (IETF draft-ietf-httpapi-ratelimit-headers): `r` remaining, `t` seconds to reset. The same value as the body's `headers.RateLimit`, for gateways that forward response headers.",
    schema: { type: "string" },
    example: '"minute";r=3;t=42',
  },
  "RateLimit-Policy": {
    description:
      "The enforced limits that applied (IETF draft-ietf-httpapi-ratelimit-headers): `q` quota, `w` window in seconds.",
    schema: { type: "string" },
    example: '"minute";q=10;w=60, "month";q=1000;w=2592000',
  },
  "Idempotent-Replayed": {
    description: "`true` when this answer is the first answer of an earlier create with the same Idempotency-Key.",
    schema: { type: "string", enum: ["true"] },
    example: "true",
  },
  "Content-Disposition": {
    description: "The file name to save the export under (RFC 6266).",
    schema: { type: "string" },
    example: 'attachment; filename="tollgate-usage-2026-03.csv"',
  },
  "Set-Cookie": {
    description: "The dashboard session: `tollgate_session`, HttpOnly, SameSite=Strict, Secure over HTTPS.",
    schema: { type: "string" },
    example: "tollgate_session=v1.eyJ0IjoidG9rXzljNGUifQ.c2ln; Path=/; HttpOnly; SameSite=Strict; Max-Age=28800",
  },
  Allow: {
    description: "The methods the path accepts (RFC 9110 §10.2.1).",
    schema: { type: "string" },
    example: "GET, HEAD",
  },
} as const;

export type ResponseHeader = keyof typeof RESPONSE_HEADERS;

/** Headers a problem of this kind carries. */
export const HEADERS_BY_PROBLEM: Record<string, ResponseHeader[]> = {
  "rate-limited": ["Retry-After"],
  "quota-exceeded": ["Retry-After"],
  "auth-throttled": ["Retry-After"],
  "store-unavailable": ["Retry-After"],
  "service-unavailable": ["Retry-After"],
  unauthenticated: ["WWW-Authenticate"],
  "method-not-allowed": ["Allow"],
};
