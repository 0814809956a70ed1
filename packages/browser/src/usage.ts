import { readLimitFields } from "./fields.js";
import { type ResponseInput, readAnswer } from "./response.js";

/** A usage counter: `used` of `limit`, freeing up in `reset` seconds. */
export interface Usage {
  used: number;
  limit: number;
  remaining: number;
  /** Seconds until the counter resets. */
  reset: number;
  /** The limit's name, when the answer names it. */
  name?: string;
}

function isNumber(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value);
}

function fromRecord(record: Record<string, unknown>): Usage | undefined {
  if (!isNumber(record.used) && !isNumber(record.remaining)) return undefined;
  if (!isNumber(record.limit)) return undefined;
  const limit = record.limit;
  const used = isNumber(record.used) ? record.used : limit - (record.remaining as number);
  const remaining = isNumber(record.remaining) ? record.remaining : Math.max(0, limit - used);
  const usage: Usage = { used, limit, remaining, reset: isNumber(record.reset) ? record.reset : 0 };
  if (typeof record.name === "string") usage.name = record.name;
  return usage;
}

/**
 * Reads a usage counter from an answer: the body of a usage endpoint (`{ used, limit, reset }`,
 * or the tightest of its `limits`), else the IETF `RateLimit` fields any limited answer carries,
 * else legacy `X-RateLimit-*` headers. Undefined when the answer says nothing about usage.
 *
 * @example
 * const usage = await readUsage(await fetch("/api/usage"));
 * counter.textContent = usage ? `${usage.used} of ${usage.limit} used today` : "";
 */
export async function readUsage(input: ResponseInput): Promise<Usage | undefined> {
  const answer = await readAnswer(input);
  const body = typeof answer.body === "object" && answer.body !== null ? (answer.body as Record<string, unknown>) : {};
  const top = fromRecord(body);
  if (top) return top;
  if (Array.isArray(body.limits)) {
    const all = body.limits
      .map((item) =>
        typeof item === "object" && item !== null ? fromRecord(item as Record<string, unknown>) : undefined,
      )
      .filter((usage): usage is Usage => usage !== undefined);
    const tightest = all.sort((a, b) => a.remaining - b.remaining || b.reset - a.reset)[0];
    if (tightest) return tightest;
  }
  const fields = readLimitFields(answer.header)
    .filter((f) => f.limit !== undefined && f.remaining !== undefined)
    .sort((a, b) => (a.remaining as number) - (b.remaining as number));
  const field = fields[0];
  if (field) {
    const limit = field.limit as number;
    const remaining = field.remaining as number;
    return { name: field.name, used: Math.max(0, limit - remaining), limit, remaining, reset: field.reset ?? 0 };
  }
  const legacyLimit = Number(answer.header("X-RateLimit-Limit"));
  const legacyRemaining = Number(answer.header("X-RateLimit-Remaining"));
  if (
    answer.header("X-RateLimit-Limit") !== undefined &&
    Number.isFinite(legacyLimit) &&
    Number.isFinite(legacyRemaining)
  ) {
    const resetEpoch = Number(answer.header("X-RateLimit-Reset"));
    const reset = Number.isFinite(resetEpoch) ? Math.max(0, Math.ceil(resetEpoch - Date.now() / 1000)) : 0;
    return { used: Math.max(0, legacyLimit - legacyRemaining), limit: legacyLimit, remaining: legacyRemaining, reset };
  }
  return undefined;
}
