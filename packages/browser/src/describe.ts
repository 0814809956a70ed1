import { parseRetryAfter, readLimitFields } from "./fields.js";
import { defaultFormatter, type Formatter, type QuotaPeriod } from "./format.js";
import { type ResponseInput, readAnswer } from "./response.js";

export type DenialKind = "rate_limited" | "quota_exceeded" | "forbidden" | "other";

/** What a refused request means for the person who made it. */
export interface Denial {
  kind: DenialKind;
  /** HTTP status of the answer. */
  status: number;
  /** Seconds to wait before a retry can succeed; undefined when waiting will not help or is unknown. */
  retryAfter: number | undefined;
  /** When the wait is over (now + retryAfter). */
  retryAt: Date | undefined;
  /** A sentence for the person: "Try again in 4 minutes 10 seconds". */
  message: string;
  /** Whether waiting and retrying can succeed (false for 403, or a request larger than any allowance). */
  retryable: boolean;
  /** The server's own explanation (problem+json `detail`), for a "details" disclosure. */
  detail: string | undefined;
  /** The server's machine reason (`limit_exceeded`, `quota_exceeded`, `forbidden`, ...), when sent. */
  reason: string | undefined;
}

export interface DescribeOptions {
  formatter?: Formatter;
  /** Current time in ms (tests); default Date.now. */
  now?: () => number;
}

const QUOTA_TYPE = /quota/i;

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : {};
}

/** problem+json (`reason`, `type`, `detail`) or an OpenAI-shaped `{ error: { code, type, message } }`. */
function bodyFacts(body: unknown) {
  const record = asRecord(body);
  const error = asRecord(record.error);
  const text = (value: unknown) => (typeof value === "string" && value !== "" ? value : undefined);
  const reason = text(record.reason) ?? text(error.code);
  const type = text(record.type) ?? text(error.type) ?? "";
  const detail = text(record.detail) ?? text(error.message) ?? (typeof body === "string" ? text(body) : undefined);
  const retryAfter = [record.retryAfter, record["retry-after"]].find((v) => typeof v === "number") as
    | number
    | undefined;
  return { reason, type, detail, retryAfter };
}

/** Infers a quota's calendar period from its window length in seconds. */
function periodOf(windowSeconds: number | undefined, name: string | undefined): QuotaPeriod | undefined {
  if (windowSeconds !== undefined && windowSeconds >= 86_400) {
    if (windowSeconds >= 27 * 86_400) return "month";
    if (windowSeconds >= 7 * 86_400) return "week";
    return "day";
  }
  const lower = name?.toLowerCase() ?? "";
  if (/month/.test(lower)) return "month";
  if (/week/.test(lower)) return "week";
  if (/day|daily/.test(lower)) return "day";
  return undefined;
}

/**
 * Describes a refused request (429 or 403, also 503 and others) for a person: its kind, how long
 * to wait, and a sentence to show. Reads `Retry-After` first, then the IETF `RateLimit` field of
 * the exhausted limit, then the problem body; a calendar quota becomes "Your monthly allowance
 * resets on 1 December".
 *
 * @example
 * const res = await fetch("/api/ai/triage", { method: "POST" });
 * if (!res.ok) {
 *   const denial = await describeDenial(res);
 *   show(denial.kind === "rate_limited" ? amberPanel(denial.message) : errorPanel(denial.message));
 * }
 */
export async function describeDenial(input: ResponseInput, options: DescribeOptions = {}): Promise<Denial> {
  const format = options.formatter ?? defaultFormatter;
  const now = (options.now ?? Date.now)();
  const answer = await readAnswer(input);
  const facts = bodyFacts(answer.body);
  const fields = readLimitFields(answer.header);
  const exhausted = fields.find((field) => field.remaining === 0);
  const retryAfter =
    parseRetryAfter(answer.header("Retry-After"), now) ??
    exhausted?.reset ??
    facts.retryAfter ??
    parseRetryAfter(answer.header("x-ratelimit-reset-requests") ?? undefined, now);
  const noRetry = answer.header("x-should-retry") === "false" || facts.reason === "cost_exceeds_limit";
  const retryAt = retryAfter === undefined ? undefined : new Date(now + retryAfter * 1000);
  const base = { status: answer.status, detail: facts.detail, reason: facts.reason };

  if (answer.status === 403 || facts.reason === "forbidden") {
    return {
      ...base,
      kind: "forbidden",
      retryAfter: undefined,
      retryAt: undefined,
      retryable: false,
      message: format.forbidden(),
    };
  }
  if (answer.status === 429) {
    if (noRetry) {
      return {
        ...base,
        kind: "other",
        retryAfter: undefined,
        retryAt: undefined,
        retryable: false,
        message: format.other(429, facts.detail),
      };
    }
    const quota = facts.reason === "quota_exceeded" || QUOTA_TYPE.test(facts.type);
    if (quota) {
      return {
        ...base,
        kind: "quota_exceeded",
        retryAfter,
        retryAt,
        retryable: retryAfter !== undefined,
        message: retryAt
          ? format.quotaResets(retryAt, periodOf(exhausted?.window, exhausted?.name))
          : format.quotaExhausted(),
      };
    }
    return {
      ...base,
      kind: "rate_limited",
      retryAfter: retryAfter ?? 1,
      retryAt: retryAt ?? new Date(now + 1000),
      retryable: true,
      message: format.retryIn(retryAfter ?? 1),
    };
  }
  return {
    ...base,
    kind: "other",
    retryAfter,
    retryAt,
    retryable: retryAfter !== undefined,
    message: format.other(answer.status, facts.detail),
  };
}
