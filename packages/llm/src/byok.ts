/** Headers that carry a caller's own LLM provider key, lower-case. */
export const DEFAULT_BYOK_HEADERS = ["x-provider-key", "x-openai-key"] as const;

/** Longest key we accept; anything longer is not a provider key and is ignored. */
const MAX_KEY_LENGTH = 512;

/**
 * The caller's own provider key, if it sent one. The key only ever lives in the per-request
 * context handed to the handler: it is never part of a subject, a counter key, a log line or an
 * error body.
 *
 * @example
 * providerKey((name) => headers.get(name), ["x-openai-key"]); // "sk-..." or undefined
 */
export function providerKey(
  header: (name: string) => string | undefined,
  names: readonly string[] = DEFAULT_BYOK_HEADERS,
): string | undefined {
  for (const name of names) {
    const value = header(name.toLowerCase())?.trim();
    if (value && value.length <= MAX_KEY_LENGTH) return value;
  }
  return undefined;
}

/** The BYOK header names an options object enables (none when `byok: false`). */
export function byokHeaderNames(byok: false | { headers?: readonly string[] } | undefined): readonly string[] {
  if (byok === false) return [];
  return (byok?.headers ?? DEFAULT_BYOK_HEADERS).map((name) => name.toLowerCase());
}

/**
 * Removes the provider key from a Node request's headers once read, so request loggers that run
 * later (morgan, pino-http) cannot print it. The handler gets it from the Tollgate context.
 */
export function stripProviderKey(headers: Record<string, unknown>, names: readonly string[]): void {
  for (const name of names) delete headers[name];
}
