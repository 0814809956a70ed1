/**
 * The catalogue of problem types (RFC 9457) that every Tollgate layer answers with: the library's
 * denials, the HTTP adapters and the server. One entry per kind of problem, so a client can
 * branch on `type` and learn more than the status says (a rate limit and a quota both answer
 * 429, but one clears in seconds and the other next month).
 *
 * Extension members are camelCase (`retryAfter`, `violatedPolicies`), as RFC 9457 §3.2 advises
 * for members that clients read as identifiers.
 */

/** Where problem type URIs live; the server also serves each type's page at `/problems/<name>`. */
export const PROBLEM_TYPE_BASE = "https://tollgate.dev/problems/";

/** The content type of every problem document. */
export const PROBLEM_CONTENT_TYPE = "application/problem+json";

/** One kind of problem: its type URI, status, title and what a client should do about it. */
export interface ProblemKind {
  /** Last segment of the type URI; also the page `/problems/<name>` and the heading in docs/problems.md. */
  readonly name: string;
  /** The type URI (`type` member). */
  readonly type: string;
  readonly status: number;
  /** A short summary that does not change between occurrences (`title` member). */
  readonly title: string;
  /** What happened and what the client should do; the documentation of the type. */
  readonly description: string;
  /** The extension members this kind carries, by name. */
  readonly members: readonly ProblemMember[];
}

/** An extension member a problem document may carry. */
export type ProblemMember = keyof typeof PROBLEM_MEMBERS;

/** Every extension member used by any kind, with its meaning (one definition, one spelling). */
export const PROBLEM_MEMBERS = {
  reason: "The decision's reason (`limit_exceeded`, `quota_exceeded`, `cost_exceeds_limit`, ...).",
  retryAfter: "Whole seconds to wait before retrying (also sent as the `Retry-After` header).",
  violatedPolicies: "Names of the enforced limits the request exceeded (or whose subject is missing).",
  field: "The request field at fault, as the client wrote it (`subject.user`, `limits[0].limit`, `body`).",
  issues: "Every problem found in the request, each with its field `path` and a `message`.",
  missing: "The enforced limits whose subject field the request lacks, each with the `field` it needs.",
  allow: "The methods the resource accepts (also sent as the `Allow` header).",
  role: "The role of the token that was refused.",
  needed: "The role (or roles) the operation needs.",
} as const;

function kind(name: string, status: number, title: string, description: string, members: ProblemMember[] = []) {
  return Object.freeze({
    name,
    type: `${PROBLEM_TYPE_BASE}${name}`,
    status,
    title,
    description,
    members: Object.freeze(members),
  }) satisfies ProblemKind;
}

/** The catalogue. Add a kind here (and to docs/problems.md) before answering with it. */
export const PROBLEMS = {
  rateLimited: kind(
    "rate-limited",
    429,
    "Too many requests",
    "A rate limit (fixed window, sliding window, sliding log, token bucket or concurrency) is spent. Wait `retryAfter` seconds; the request will then be admitted absent other traffic.",
    ["reason", "retryAfter", "violatedPolicies"],
  ),
  quotaExceeded: kind(
    "quota-exceeded",
    429,
    "Quota exceeded",
    "A calendar quota (day, week, month) is spent. `retryAfter` is the time to the next period: usually far away, so tell the user or upgrade the plan rather than retry.",
    ["reason", "retryAfter", "violatedPolicies"],
  ),
  costExceedsLimit: kind(
    "cost-exceeds-limit",
    429,
    "Request larger than the limit",
    "The request costs more than the limit can ever hold (a token estimate above the window's capacity). Retrying will not help: send a smaller request.",
    ["reason", "violatedPolicies"],
  ),
  subjectMissing: kind(
    "subject-missing",
    400,
    "Subject missing",
    "An enforced limit counts per a subject field (user, key, org, project, ip) the request does not name. Nothing was counted. Send the field named in `field`.",
    ["reason", "field", "missing", "violatedPolicies"],
  ),
  invalidKey: kind(
    "invalid-key",
    401,
    "Invalid API key",
    "The API key is unknown, revoked or expired. Ask its owner for a valid key.",
    ["reason"],
  ),
  forbiddenScope: kind(
    "forbidden-scope",
    403,
    "Forbidden",
    "The API key or the caller's scopes do not include the scope the category requires.",
    ["reason"],
  ),
  storeUnavailable: kind(
    "store-unavailable",
    503,
    "Rate limiting unavailable",
    "The counter store is unreachable and this endpoint fails closed. Retry after `retryAfter` seconds.",
    ["reason", "retryAfter"],
  ),
  unauthenticated: kind(
    "unauthenticated",
    401,
    "Unauthorized",
    'The request carries no bearer token, or one this server does not know (wrong, revoked). Send "Authorization: Bearer <token>" with a token of the role the operation needs.',
  ),
  forbiddenRole: kind(
    "forbidden-role",
    403,
    "Forbidden",
    "The token is valid but its role may not perform this operation (roles: admin > operator > readonly; service only calls the decision API). `needed` names the role to ask an admin for.",
    ["role", "needed"],
  ),
  csrfRejected: kind(
    "csrf-rejected",
    403,
    "Cross-site request refused",
    "A change made with a dashboard session cookie lacks the `x-tollgate-csrf: 1` header or comes from another origin. Scripts use a bearer token instead; the dashboard sends the header itself.",
  ),
  authThrottled: kind(
    "auth-throttled",
    429,
    "Too many failed authentications",
    "This address sent too many requests with missing or wrong credentials. Wait `retryAfter` seconds and send a valid token.",
    ["retryAfter"],
  ),
  validationFailed: kind(
    "validation-failed",
    400,
    "Invalid request",
    "A field of the request is missing, of the wrong type or out of range. `field` names the first one as the request wrote it; `issues` lists all. Nothing was counted or changed.",
    ["field", "issues"],
  ),
  malformedBody: kind(
    "malformed-body",
    400,
    "Malformed body",
    "The body is not valid JSON (or is empty where a JSON object is required). Nothing was counted or changed.",
    ["field"],
  ),
  notFound: kind(
    "not-found",
    404,
    "Not found",
    "No such route, or no resource with the identifier in `field`. List the collection to find valid identifiers.",
    ["field"],
  ),
  methodNotAllowed: kind(
    "method-not-allowed",
    405,
    "Method not allowed",
    "The path exists but not with this method; `allow` (and the `Allow` header) lists the methods it accepts.",
    ["allow"],
  ),
  conflict: kind(
    "conflict",
    409,
    "Conflict",
    "The resource's state does not permit this change (a decision already settled, a revoked key rotated). Nothing was changed.",
    ["field"],
  ),
  idempotencyKeyReused: kind(
    "idempotency-key-reused",
    422,
    "Idempotency key reused",
    "The `Idempotency-Key` was already used for a request with a different body. Use a new key for a new create; resend the same body to get the first answer again.",
    ["field"],
  ),
  idempotencyInProgress: kind(
    "idempotency-in-progress",
    409,
    "Request in progress",
    "A request with this `Idempotency-Key` is still being processed. Retry shortly to get its answer.",
    ["field"],
  ),
  payloadTooLarge: kind(
    "payload-too-large",
    413,
    "Body too large",
    "The body is larger than the server accepts (`server.bodyLimit`). Nothing was counted.",
    ["field"],
  ),
  uriTooLong: kind(
    "uri-too-long",
    414,
    "URI too long",
    "The request target is longer than the server accepts. Send long values in a body.",
  ),
  unsupportedMediaType: kind(
    "unsupported-media-type",
    415,
    "Unsupported media type",
    "The body's content type is not one this operation reads. Send `content-type: application/json`.",
    ["field"],
  ),
  headersTooLarge: kind(
    "headers-too-large",
    431,
    "Request header fields too large",
    "The request's headers are larger than the server accepts.",
  ),
  requestTimeout: kind(
    "request-timeout",
    408,
    "Request timeout",
    "The request was not received completely in time. Send it again.",
    ["field"],
  ),
  internalError: kind(
    "internal-error",
    500,
    "Internal error",
    "An unexpected error; it has been logged with the request id. Retry, and report it if it persists.",
  ),
  serviceUnavailable: kind(
    "service-unavailable",
    503,
    "Service unavailable",
    "A store the operation needs (the database) is unreachable. Retry after `retryAfter` seconds.",
    ["retryAfter"],
  ),
} as const;

export type ProblemName = keyof typeof PROBLEMS;

/** Every kind, in catalogue order. */
export const PROBLEM_KINDS: readonly ProblemKind[] = Object.freeze(Object.values(PROBLEMS));

/** The kind with this type URI or name, if it is in the catalogue. */
export function problemKind(typeOrName: string): ProblemKind | undefined {
  const name = typeOrName.startsWith(PROBLEM_TYPE_BASE) ? typeOrName.slice(PROBLEM_TYPE_BASE.length) : typeOrName;
  return PROBLEM_KINDS.find((k) => k.name === name);
}

/** An RFC 9457 problem document (`application/problem+json`). */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  [member: string]: unknown;
}

/** A problem document of `kind` with a `detail` for this occurrence and its extension members. */
export function problemOf(kind: ProblemKind, detail: string, members: Record<string, unknown> = {}): Problem {
  return { type: kind.type, title: kind.title, status: kind.status, detail, ...members };
}
