import { PROBLEM_KINDS, PROBLEMS, type Problem, type ProblemKind, problemOf } from "@tollgate/core";

/** A typical occurrence of each kind, for the document's examples (every kind has one). */
const EXAMPLES: Record<string, [detail: string, members: Record<string, unknown>]> = {
  [PROBLEMS.rateLimited.name]: [
    "Rate limit exceeded (minute). Try again in 30 seconds.",
    { reason: "limit_exceeded", retryAfter: 30, violatedPolicies: ["minute"] },
  ],
  [PROBLEMS.quotaExceeded.name]: [
    "Quota exceeded (month). Try again in 292 h 0 min.",
    { reason: "quota_exceeded", retryAfter: 1051200, violatedPolicies: ["month"] },
  ],
  [PROBLEMS.costExceedsLimit.name]: [
    "This request costs more than tokens-minute can ever allow; retrying will not help.",
    { reason: "cost_exceeds_limit", violatedPolicies: ["tokens-minute"] },
  ],
  [PROBLEMS.subjectMissing.name]: [
    'The request names no subject for an enforced limit ("minute" needs subject.user); nothing was counted.',
    {
      reason: "subject_missing",
      field: "subject.user",
      missing: [{ limit: "minute", field: "subject.user" }],
      violatedPolicies: ["minute"],
    },
  ],
  [PROBLEMS.invalidKey.name]: ["The API key is unknown, revoked or expired.", { reason: "invalid_key" }],
  [PROBLEMS.forbiddenScope.name]: ["Your API key or scopes do not permit this endpoint.", { reason: "forbidden" }],
  [PROBLEMS.storeUnavailable.name]: [
    "The limit store is unreachable and this endpoint fails closed. Try again shortly.",
    { reason: "store_unavailable", retryAfter: 1 },
  ],
  [PROBLEMS.unauthenticated.name]: [
    "Invalid or revoked token: check the token you send, or ask an admin for a new one.",
    {},
  ],
  [PROBLEMS.forbiddenRole.name]: [
    "Your token's role (readonly) may not do this: it needs admin or higher. Ask an admin for a token with that role.",
    { role: "readonly", needed: "admin or higher" },
  ],
  [PROBLEMS.csrfRejected.name]: [
    'Changes made with a dashboard session must send the header "x-tollgate-csrf: 1" (protection against cross-site requests).',
    {},
  ],
  [PROBLEMS.authThrottled.name]: [
    "Too many failed authentications from this address. Try again in 60 s with a valid token.",
    { retryAfter: 60 },
  ],
  [PROBLEMS.validationFailed.name]: [
    "cost: Too big: expected number to be <=9007199254740991",
    { field: "cost", issues: [{ path: "cost", message: "Too big: expected number to be <=9007199254740991" }] },
  ],
  [PROBLEMS.malformedBody.name]: [
    "body: Body is not valid JSON but content-type is set to 'application/json'. Send a JSON object.",
    { field: "body" },
  ],
  [PROBLEMS.notFound.name]: ['No API key with id "key_0a1b2c". List keys with GET /v1/admin/keys.', { field: "id" }],
  [PROBLEMS.methodNotAllowed.name]: [
    "method: PATCH is not allowed here; use GET, HEAD.",
    { field: "method", allow: ["GET", "HEAD"] },
  ],
  [PROBLEMS.conflict.name]: ["This decision was already settled; settle each decision once.", { field: "decisionId" }],
  [PROBLEMS.payloadTooLarge.name]: ["body: larger than this server accepts (server.bodyLimit).", { field: "body" }],
  [PROBLEMS.uriTooLong.name]: ["path: a path parameter is longer than 256 characters.", { field: "path" }],
  [PROBLEMS.unsupportedMediaType.name]: ["Send the body as application/json.", { field: "content-type" }],
  [PROBLEMS.headersTooLarge.name]: [
    "headers: the request line and headers exceed the server's limit (16 KB).",
    { field: "headers" },
  ],
  [PROBLEMS.requestTimeout.name]: ["The request was not received in time.", { field: "request" }],
  [PROBLEMS.internalError.name]: ["Internal error; it has been logged. Retry, and report it if it persists.", {}],
  [PROBLEMS.serviceUnavailable.name]: ["The database is unreachable. Try again in 5 s.", { retryAfter: 5 }],
};

/** The example problem document of a kind. */
export function problemExample(kind: ProblemKind): Problem {
  const [detail, members] = EXAMPLES[kind.name] ?? [kind.description, {}];
  return problemOf(kind, detail, members);
}

/** Kinds without an example here (a test keeps this empty). */
export const kindsWithoutExample = () => PROBLEM_KINDS.filter((k) => !(k.name in EXAMPLES)).map((k) => k.name);
