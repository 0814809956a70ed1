import { joinPath } from "./config/load.js";

/** A string in a request the database would refuse or silently alter, and where it is. */
export interface UnstorableText {
  /** `name`, `limits[0].requiredScope`, `id` (path parameter), `owner` (query parameter). */
  path: string;
  reason: string;
}

// One cheap test per string; only a hit pays for the precise checks below.
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding NUL is the point
const SUSPECT = /[\u0000\ud800-\udfff]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function problemIn(text: string): string | undefined {
  if (!SUSPECT.test(text)) return undefined;
  if (text.includes("\u0000")) return "contains a NUL character (\\u0000), which cannot be stored";
  if (LONE_SURROGATE.test(text)) return "contains an unpaired UTF-16 surrogate (not valid Unicode)";
  return undefined;
}

/**
 * The first string (value or object key) in a parsed request part that Postgres and PGlite
 * refuse in `text` and `jsonb` columns: NUL, and lone surrogates (which `jsonb` rejects and
 * `text` would store as U+FFFD). Checked before validation so such a request is a 400 naming the
 * field, before anything is written or counted.
 */
export function findUnstorableText(value: unknown, path: (string | number)[] = []): UnstorableText | undefined {
  if (typeof value === "string") {
    const reason = problemIn(value);
    return reason ? { path: joinPath(path), reason } : undefined;
  }
  if (value === null || typeof value !== "object") return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findUnstorableText(value[i], [...path, i]);
      if (found) return found;
    }
    return undefined;
  }
  for (const [key, item] of Object.entries(value)) {
    const keyReason = problemIn(key);
    if (keyReason) return { path: joinPath([...path, "[key]"]), reason: `has a key that ${keyReason}` };
    const found = findUnstorableText(item, [...path, key]);
    if (found) return found;
  }
  return undefined;
}
