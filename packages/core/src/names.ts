/**
 * The one rule for names people write into a configuration and send with requests: limit names,
 * plan names and category names. Short, printable, and safe inside store keys and HTTP headers.
 */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** How {@link NAME_PATTERN} reads in an error message. */
export const NAME_RULE = "1-64 letters, digits, '_', '.', '-', starting with a letter or digit";

export function isName(value: unknown): value is string {
  return typeof value === "string" && NAME_PATTERN.test(value);
}
