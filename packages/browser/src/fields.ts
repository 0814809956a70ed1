/**
 * Parsers for the rate-limit fields a server sends: `Retry-After` (seconds or an HTTP date), the
 * IETF `RateLimit` / `RateLimit-Policy` structured fields, and the legacy `X-RateLimit-*` ones.
 */

/** One item of `RateLimit` or `RateLimit-Policy`: its name and numeric parameters. */
export interface FieldItem {
  name: string;
  params: Record<string, number>;
}

/**
 * Parses a list of `"name";key=value` items (RFC 8941 lists of strings or tokens with
 * integer parameters), which is what both IETF fields carry. Unparseable items are skipped.
 */
export function parseFieldItems(value: string | undefined): FieldItem[] {
  if (!value) return [];
  const items: FieldItem[] = [];
  // Split on commas outside quoted strings.
  const parts = value.match(/(?:"(?:[^"\\]|\\.)*"|[^,])+/g) ?? [];
  for (const part of parts) {
    const [head, ...rest] = part.split(";").map((s) => s.trim());
    if (!head) continue;
    const name = head.startsWith('"') ? head.slice(1, -1).replace(/\\(.)/g, "$1") : head;
    const params: Record<string, number> = {};
    for (const param of rest) {
      const [key, raw] = param.split("=");
      const number = Number(raw);
      if (key && raw !== undefined && Number.isFinite(number)) params[key.trim()] = number;
    }
    items.push({ name, params });
  }
  return items;
}

/** Seconds from a `Retry-After` value: delta-seconds, or an HTTP date measured against `now`. */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, Math.ceil((date - now) / 1000));
}

/** The IETF fields joined by name: quota `q` and window `w` from the policy, `r` and `t` from the current state. */
export interface LimitField {
  name: string;
  limit?: number;
  window?: number;
  remaining?: number;
  reset?: number;
}

export function readLimitFields(header: (name: string) => string | undefined): LimitField[] {
  const policies = new Map(parseFieldItems(header("RateLimit-Policy")).map((item) => [item.name, item.params]));
  return parseFieldItems(header("RateLimit")).map(({ name, params }) => {
    const policy = policies.get(name) ?? {};
    const field: LimitField = { name };
    if (policy.q !== undefined) field.limit = policy.q;
    if (policy.w !== undefined) field.window = policy.w;
    if (params.r !== undefined) field.remaining = params.r;
    if (params.t !== undefined) field.reset = params.t;
    return field;
  });
}
