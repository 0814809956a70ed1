import type { Decision, LimitStatus } from "./decision.js";
import { PROBLEMS, type Problem, type ProblemKind, problemOf } from "./problems.js";

export interface HeaderOptions {
  /** IETF `RateLimit-Policy` and `RateLimit` fields (draft-ietf-httpapi-ratelimit-headers-10/11). Default true. */
  ietf?: boolean;
  /** `Retry-After` on denials. Default true. */
  retryAfter?: boolean;
  /** Legacy `X-RateLimit-Limit/-Remaining/-Reset` (reset as epoch seconds) of the most restrictive limit. */
  legacy?: boolean;
  /** OpenAI-style `x-ratelimit-{limit,remaining,reset}-{requests,tokens}`. */
  openai?: boolean;
  /** Clock for the legacy epoch reset. */
  now?: () => number;
}

/** Denials that no wait can turn into an allowance. */
const NO_RETRY: ReadonlySet<string> = new Set(["cost_exceeds_limit", "subject_missing", "invalid_key", "forbidden"]);

/** Enforced limits only: monitors never change a response. */
const enforced = (decision: Decision) => decision.limits.filter((status) => status.mode === "enforce");

/**
 * Policy names must be unique in a field; a repeated name gets its subject kind appended. Runs on
 * every response, so the common case (no repeats) costs one pairwise scan of a handful of names.
 */
function policyNames(statuses: LimitStatus[]): string[] {
  const names = statuses.map((status) => status.name);
  let repeated = false;
  for (let i = 0; i < names.length && !repeated; i++) {
    for (let j = i + 1; j < names.length; j++) if (names[i] === names[j]) repeated = true;
  }
  if (!repeated) return names;
  const seen = new Set<string>();
  return statuses.map((status) => {
    let name = status.name;
    if (seen.has(name)) name = `${status.name}-${status.subject.slice(0, status.subject.indexOf(":"))}`;
    let suffix = 2;
    const base = name;
    while (seen.has(name)) name = `${base}-${suffix++}`;
    seen.add(name);
    return name;
  });
}

// Limit names are few and fixed by configuration: their quoted form is computed once.
const quoted = new Map<string, string>();

/** Policy names are Structured Field strings: printable ASCII with `"` and `\` escaped. */
function sfString(value: string): string {
  let text = quoted.get(value);
  if (text === undefined) {
    text = `"${value.replace(/[\\"]/g, (c) => `\\${c}`).replace(/[^\x20-\x7e]/g, "?")}"`;
    if (quoted.size < 10_000) quoted.set(value, text);
  }
  return text;
}

function policyItem(name: string, status: LimitStatus): string {
  let item = `${sfString(name)};q=${status.limit}`;
  if (status.algorithm === "concurrency") return `${item};qu="concurrent-requests"`;
  if (status.unit === "tokens") item += `;qu="tokens"`;
  else if (status.unit === "usd") item += `;qu="usd-micros"`;
  return `${item};w=${status.window}`;
}

/** The limit a client will hit first: least remaining, then latest reset. */
function mostRestrictive(statuses: LimitStatus[]): LimitStatus | undefined {
  let chosen: LimitStatus | undefined;
  for (const status of statuses) {
    if (
      chosen === undefined ||
      status.remaining < chosen.remaining ||
      (status.remaining === chosen.remaining && status.reset > chosen.reset)
    ) {
      chosen = status;
    }
  }
  return chosen;
}

/** `1s`, `6m0s`, `1h2m3s`: the reset format OpenAI's headers use. */
function openAiDuration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}

/**
 * The response headers for a decision, ready to copy onto an HTTP response.
 *
 * @example
 * rateLimitHeaders(decision)
 * // { "RateLimit-Policy": "\"minute\";q=10;w=60", "RateLimit": "\"minute\";r=0;t=42", "Retry-After": "42" }
 */
export function rateLimitHeaders(decision: Decision, options: HeaderOptions = {}): Record<string, string> {
  const headers: Record<string, string> = {};
  // Monitor-only (or no) limits on an allowed request: nothing to say, and nothing to build.
  if (decision.allowed && !decision.limits.some((status) => status.mode === "enforce")) return headers;
  const statuses = enforced(decision);
  if (options.ietf !== false && statuses.length > 0) {
    const names = policyNames(statuses);
    let policy = "";
    let current = "";
    for (let i = 0; i < statuses.length; i++) {
      const status = statuses[i] as LimitStatus;
      const name = names[i] as string;
      const separator = i === 0 ? "" : ", ";
      policy += separator + policyItem(name, status);
      current += `${separator}${sfString(name)};r=${status.remaining};t=${status.reset}`;
    }
    headers["RateLimit-Policy"] = policy;
    headers.RateLimit = current;
  }
  if (options.retryAfter !== false && !decision.allowed && decision.retryAfter !== undefined) {
    headers["Retry-After"] = String(decision.retryAfter);
  }
  // Waiting cannot help: tell retrying clients (the OpenAI SDKs read this header) not to.
  if (!decision.allowed && decision.reason !== undefined && NO_RETRY.has(decision.reason)) {
    headers["x-should-retry"] = "false";
  }
  // On a denial no reset a client reads may come before the retry-after: waiting it must work.
  const floor = decision.allowed ? 0 : (decision.retryAfter ?? 0);
  if (options.legacy) {
    const binding = mostRestrictive(statuses);
    if (binding) {
      const now = options.now?.() ?? Date.now();
      headers["X-RateLimit-Limit"] = String(binding.limit);
      headers["X-RateLimit-Remaining"] = String(binding.remaining);
      headers["X-RateLimit-Reset"] = String(Math.ceil(now / 1000) + Math.max(binding.reset, floor));
    }
  }
  if (options.openai) {
    for (const unit of ["requests", "tokens"] as const) {
      const binding = mostRestrictive(statuses.filter((status) => status.unit === unit));
      if (!binding) continue;
      headers[`x-ratelimit-limit-${unit}`] = String(binding.limit);
      headers[`x-ratelimit-remaining-${unit}`] = String(binding.remaining);
      headers[`x-ratelimit-reset-${unit}`] = openAiDuration(Math.max(binding.reset, floor));
    }
  }
  return headers;
}

/** An RFC 9457 problem document for a denial (`application/problem+json`); see problems.ts. */
export interface DenialProblem extends Problem {
  reason: string;
  /** Whole seconds to wait; absent when no wait helps. */
  retryAfter?: number;
  violatedPolicies: string[];
  /** `subject_missing`: the first subject field a limit needed and the request lacked (`subject.user`). */
  field?: string;
  /** `subject_missing`: every limit whose subject was absent, with the field it needs. */
  missing?: { limit: string; field: string }[];
}

function humanWait(seconds: number): string {
  if (seconds < 60) return `${seconds} second${seconds === 1 ? "" : "s"}`;
  const minutes = Math.floor(seconds / 60);
  const rest = seconds % 60;
  if (minutes < 60) return rest ? `${minutes} min ${rest} s` : `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  return `${hours} h ${minutes % 60} min`;
}

/**
 * The problem document and status for a denied decision: 429 for limits and quotas, 403 for a
 * missing scope, 401 for an invalid key, 400 when a limit's subject is missing, 503 when the
 * store failed closed.
 */
export function denialProblem(decision: Decision): DenialProblem {
  const violated = enforced(decision)
    .filter((status) => status.exceeded)
    .map((status) => status.name);
  const wait = decision.retryAfter;
  const denial = (kind: ProblemKind, detail: string, members: Omit<DenialProblem, keyof Problem>): DenialProblem =>
    problemOf(kind, detail, members) as DenialProblem;
  switch (decision.reason) {
    case "subject_missing": {
      const missing = decision.missing ?? [];
      const first = missing[0];
      const names = missing.map((m) => `"${m.limit}" needs subject.${m.field}`).join(", ");
      return denial(
        PROBLEMS.subjectMissing,
        `The request names no subject for an enforced limit (${names || "unknown"}); nothing was counted.`,
        {
          reason: "subject_missing",
          violatedPolicies: missing.map((m) => m.limit),
          ...(first ? { field: `subject.${first.field}` } : {}),
          missing: missing.map((m) => ({ limit: m.limit, field: `subject.${m.field}` })),
        },
      );
    }
    case "forbidden":
      return denial(PROBLEMS.forbiddenScope, "Your API key or scopes do not permit this endpoint.", {
        reason: "forbidden",
        violatedPolicies: [],
      });
    case "invalid_key":
      return denial(PROBLEMS.invalidKey, "The API key is unknown, revoked or expired.", {
        reason: "invalid_key",
        violatedPolicies: [],
      });
    case "store_unavailable":
      return denial(
        PROBLEMS.storeUnavailable,
        "The limit store is unreachable and this endpoint fails closed. Try again shortly.",
        { reason: "store_unavailable", ...(wait !== undefined ? { retryAfter: wait } : {}), violatedPolicies: [] },
      );
    case "cost_exceeds_limit":
      return denial(
        PROBLEMS.costExceedsLimit,
        `This request costs more than ${violated.join(", ") || "the limit"} can ever allow; retrying will not help.`,
        { reason: "cost_exceeds_limit", violatedPolicies: violated },
      );
    default: {
      const quota = decision.reason === "quota_exceeded";
      return denial(
        quota ? PROBLEMS.quotaExceeded : PROBLEMS.rateLimited,
        `${quota ? "Quota" : "Rate limit"} exceeded (${violated.join(", ")}). Try again in ${humanWait(wait ?? 1)}.`,
        {
          reason: decision.reason ?? "limit_exceeded",
          ...(wait !== undefined ? { retryAfter: wait } : {}),
          violatedPolicies: violated,
        },
      );
    }
  }
}
