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

/** Deeper JSON than this is refused: no request of this API nests beyond a handful of levels. */
export const MAX_DEPTH = 64;

/**
 * The first string (value or object key) in a parsed request part that Postgres and PGlite
 * refuse in `text` and `jsonb` columns: NUL, and lone surrogates (which `jsonb` rejects and
 * `text` would store as U+FFFD); or a value nested deeper than MAX_DEPTH. Checked before
 * validation so such a request is a 400 naming the field, before anything is written or
 * counted. Iterative, so a hostile 10,000-level array cannot overflow the stack.
 */
export function findUnstorableText(root: unknown): UnstorableText | undefined {
  const stack: { value: unknown; path: (string | number)[] }[] = [{ value: root, path: [] }];
  while (stack.length > 0) {
    const { value, path } = stack.pop() as { value: unknown; path: (string | number)[] };
    if (typeof value === "string") {
      const reason = problemIn(value);
      if (reason) return { path: joinPath(path), reason };
      continue;
    }
    if (value === null || typeof value !== "object") continue;
    if (path.length >= MAX_DEPTH) return { path: joinPath(path), reason: `is nested deeper than ${MAX_DEPTH} levels` };
    // Pushed in reverse so the first offending field in document order is the one reported.
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i], path: [...path, i] });
      continue;
    }
    const entries = Object.entries(value);
    for (let i = entries.length - 1; i >= 0; i--) {
      const [key, item] = entries[i] as [string, unknown];
      const keyReason = problemIn(key);
      if (keyReason) return { path: joinPath([...path, "[key]"]), reason: `has a key that ${keyReason}` };
      stack.push({ value: item, path: [...path, key] });
    }
  }
  return undefined;
}
