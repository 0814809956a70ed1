import { redactIn } from "../redact.js";
import type { SendOutcome } from "./types.js";

export type FetchLike = typeof globalThis.fetch;

/** Most a receiver may ask us to wait (Retry-After) before the next try. */
const MAX_RETRY_AFTER_MS = 300_000;

function retryAfterMs(header: string | null): number | undefined {
  if (header === null) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.min(seconds * 1000, MAX_RETRY_AFTER_MS);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.min(Math.max(0, date - Date.now()), MAX_RETRY_AFTER_MS);
}

/** Names the network failure under fetch's generic "fetch failed" (ECONNREFUSED, timeout, reset). */
function describe(error: unknown): string {
  if (error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError")) {
    return "timed out waiting for the receiver";
  }
  const cause = (error as { cause?: { code?: string; message?: string } } | undefined)?.cause;
  const message = error instanceof Error ? error.message : String(error);
  return cause?.code ? `${message} (${cause.code})` : cause?.message ? `${message}: ${cause.message}` : message;
}

/**
 * One POST of a JSON body. 2xx is delivered; 408, 429 and 5xx and network failures are worth
 * another try; any other status is final. Error texts are redacted of the URL.
 */
export async function postJson(
  fetchImpl: FetchLike,
  url: string,
  body: string,
  headers: Record<string, string>,
  signal: AbortSignal,
): Promise<SendOutcome> {
  let response: Response;
  try {
    response = await fetchImpl(url, {
      method: "POST",
      headers: { "content-type": "application/json", "user-agent": "tollgate-alerts", ...headers },
      body,
      signal,
      redirect: "error",
    });
  } catch (error) {
    return { ok: false, retryable: true, error: redactIn(describe(error), url) };
  }
  // The body is not needed; reading it frees the connection for reuse.
  const text = await response.text().catch(() => "");
  if (response.ok) return { ok: true, status: response.status };
  const status = response.status;
  const retryable = status === 408 || status === 429 || status >= 500;
  const wait = retryAfterMs(response.headers.get("retry-after"));
  const snippet = text.replace(/\s+/g, " ").slice(0, 200);
  return {
    ok: false,
    retryable,
    status,
    error: redactIn(`receiver answered HTTP ${status}${snippet ? `: ${snippet}` : ""}`, url),
    ...(wait !== undefined ? { retryAfterMs: wait } : {}),
  };
}
