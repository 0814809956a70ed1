/**
 * A sink URL as people may see it: scheme and host only. Slack and Discord webhook URLs are
 * bearer secrets (the path is the credential), and webhook URLs often carry tokens too.
 *
 * @example
 * redactUrl("https://hooks.slack.com/services/T0/B0/XYZ") // "https://hooks.slack.com/***"
 */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}/***`;
  } catch {
    return "***";
  }
}

/** `text` with `url`, and its path and query on their own, replaced: error messages can quote either. */
export function redactIn(text: string, url: string): string {
  let out = text.split(url).join(redactUrl(url));
  try {
    const { pathname, search } = new URL(url);
    if (pathname.length > 1 || search.length > 0) out = out.split(`${pathname}${search}`).join("/***");
    if (search.length > 0) out = out.split(search).join("?***");
  } catch {
    // not a URL: the whole string was replaced above
  }
  return out;
}
