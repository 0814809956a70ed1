/** Where the adapters report configuration that looks wrong. Defaults to `console`. */
export interface Logger {
  warn(message: string): void;
}

/**
 * Each configuration warning is printed once per middleware, not once per request: a
 * misconfigured proxy would otherwise flood the log (express-rate-limit's validations do the same).
 */
export function warnOnce(logger: Logger = console): (code: string, message: string) => void {
  const seen = new Set<string>();
  return (code, message) => {
    if (seen.has(code)) return;
    seen.add(code);
    logger.warn(`[tollgate] ${code}: ${message}`);
  };
}
