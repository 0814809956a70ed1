import { ConfigError } from "./errors.js";

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * Parses a duration such as `500ms`, `30s`, `1m`, `1h`, `1d`, `2w` (or a number of milliseconds)
 * into milliseconds. Throws a ConfigError naming `path` when it is not a positive duration.
 *
 * @example parseDuration("1h") // 3_600_000
 */
export function parseDuration(value: unknown, path = "window"): number {
  if (typeof value === "number") {
    if (Number.isFinite(value) && value > 0 && Number.isInteger(value)) return value;
    throw new ConfigError([{ path, message: `must be a positive whole number of milliseconds, got ${value}` }]);
  }
  if (typeof value === "string") {
    const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$/.exec(value);
    if (match) {
      const ms = Number(match[1]) * (UNIT_MS[match[2] as string] as number);
      if (ms >= 1 && Number.isInteger(ms)) return ms;
    }
  }
  throw new ConfigError([
    { path, message: `must be a duration like "30s", "1m", "1h", "1d" (got ${JSON.stringify(value)})` },
  ]);
}

/** Formats milliseconds as the shortest exact unit (`60000` -> `1m`). */
export function formatDuration(ms: number): string {
  for (const unit of ["w", "d", "h", "m", "s"] as const) {
    const size = UNIT_MS[unit] as number;
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
