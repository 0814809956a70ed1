import { type Decision, rateLimitHeaders } from "@tollgate/core";

/**
 * An error as the OpenAI API answers it, so OpenAI SDKs raise their usual exceptions
 * (RateLimitError, AuthenticationError, ...) and read the same fields.
 */
export interface OpenAiError {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/** An answer the gateway gives instead of calling the upstream. */
export interface GatewayRefusal {
  status: number;
  headers: Record<string, string>;
  body: OpenAiError;
}

export function openAiError(
  message: string,
  type: string,
  code: string | null,
  param: string | null = null,
): OpenAiError {
  return { error: { message, type, param, code } };
}

/** A request the gateway cannot forward: 400 naming the field, nothing counted. */
export function invalidRequest(param: string, message: string): GatewayRefusal {
  return {
    status: 400,
    headers: {},
    body: openAiError(`${param}: ${message}`, "invalid_request_error", "invalid_value", param),
  };
}

/** No or an unknown Tollgate API key. */
export function unauthenticated(message: string): GatewayRefusal {
  return { status: 401, headers: {}, body: openAiError(message, "invalid_request_error", "invalid_api_key") };
}

/** Seconds from a denial's own fields: the limiter's retryAfter (absent when no wait helps). */
const waitOf = (decision: Decision) => decision.retryAfter;

/** The limits that denied, by name, for the message. */
function denyingLimits(decision: Decision): string {
  const names = decision.limits.filter((s) => s.exceeded && s.mode === "enforce").map((s) => `"${s.name}"`);
  return names.length > 0 ? ` (${names.join(", ")})` : "";
}

/**
 * A denial in OpenAI's shape. Rate limits answer 429 `rate_limit_exceeded` with Retry-After
 * (OpenAI SDKs wait it and retry); a calendar quota or a cost that can never fit answers 429
 * `insufficient_quota` with `x-should-retry: false`, so SDKs give up at once instead of retrying
 * into the same wall. Every answer carries the x-ratelimit-* and IETF RateLimit fields.
 */
export function denial(decision: Decision, now: number): GatewayRefusal {
  const headers: Record<string, string> = rateLimitHeaders(decision, { openai: true, now: () => now });
  const wait = waitOf(decision);
  switch (decision.reason) {
    case "invalid_key":
      return unauthenticated(
        "Incorrect API key provided: send a Tollgate API key as `Authorization: Bearer tg_live_...`.",
      );
    case "forbidden":
      return {
        status: 403,
        headers,
        body: openAiError(
          "This API key lacks the scope the gateway's category requires.",
          "permission_error",
          "forbidden",
        ),
      };
    case "subject_missing":
      return {
        status: 403,
        headers: { ...headers, "x-should-retry": "false" },
        body: openAiError(
          `A limit of your plan needs a subject this API key does not carry${denyingLimits(decision)}.`,
          "permission_error",
          "subject_missing",
        ),
      };
    case "quota_exceeded":
      return {
        status: 429,
        headers: { ...headers, "x-should-retry": "false" },
        body: openAiError(
          `You exceeded your current quota${denyingLimits(decision)}; it renews in ${wait ?? "?"} s.`,
          "insufficient_quota",
          "insufficient_quota",
        ),
      };
    case "cost_exceeds_limit":
      return {
        status: 429,
        headers: { ...headers, "x-should-retry": "false" },
        body: openAiError(
          `This request's worst-case cost (prompt plus max_tokens) can never fit your budget${denyingLimits(decision)}: lower max_tokens or the prompt.`,
          "insufficient_quota",
          "cost_exceeds_limit",
        ),
      };
    case "store_unavailable":
      return {
        status: 503,
        headers: { ...headers, "Retry-After": String(wait ?? 1) },
        body: openAiError(
          "The rate limiter's store is unavailable; retry shortly.",
          "server_error",
          "store_unavailable",
        ),
      };
    default:
      return {
        status: 429,
        headers,
        body: openAiError(
          `Rate limit reached${denyingLimits(decision)}. Please try again in ${wait ?? 1}s.`,
          "rate_limit_exceeded",
          "rate_limit_exceeded",
        ),
      };
  }
}

/** The SSE event that ends a stream cut at the caller's budget, in the shape OpenAI streams errors. */
export function budgetCutEvent(): string {
  const body = openAiError(
    "The stream was stopped: it reached your token or spending budget. The output so far was charged.",
    "insufficient_quota",
    "budget_exhausted",
  );
  return `data: ${JSON.stringify(body)}\n\n`;
}
