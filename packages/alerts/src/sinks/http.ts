import { Agent, type Dispatcher } from "undici";
import { redactIn } from "../redact.js";
import type { Attempt, SendOutcome } from "./types.js";

/** Sends one JSON POST; never throws (failures are outcomes). `close` drops idle connections. */
export type Poster = ((
  url: string,
  body: string,
  headers: Record<string, string>,
  attempt: Pick<Attempt, "signal" | "timeoutMs">,
) => Promise<SendOutcome>) & { close(): void };

/** Most a receiver may ask us to wait (Retry-After) before the next try. */
const MAX_RETRY_AFTER_MS = 300_000;
/** Enough of an error body to say what went wrong. */
const MAX_ERROR_BODY = 200;
const TIMEOUTS = new Set(["UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT", "UND_ERR_CONNECT_TIMEOUT"]);

function retryAfterMs(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.min(seconds * 1000, MAX_RETRY_AFTER_MS);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.min(Math.max(0, date - Date.now()), MAX_RETRY_AFTER_MS);
}

/** The network failure in words: refused, reset, timed out, aborted at shutdown, ... */
function describe(error: unknown, signal: AbortSignal): string {
  const code = (error as { code?: string }).code;
  if (code !== undefined && TIMEOUTS.has(code)) return "timed out waiting for the receiver";
  if (signal.aborted) return `aborted: ${(signal.reason as Error | undefined)?.message ?? "closed"}`;
  const message = error instanceof Error ? error.message : String(error);
  return code && !message.includes(code) ? `${message} (${code})` : message;
}

/** A receiver's non-2xx answer as an outcome. */
function failure(status: number, text: string, url: string, retryAfter: string | undefined): SendOutcome {
  // 3xx is not followed: a webhook that moved must be reconfigured, not chased.
  const retryable = status === 408 || status === 429 || status >= 500;
  const wait = retryAfterMs(retryAfter);
  const snippet = text.replace(/\s+/g, " ").trim().slice(0, MAX_ERROR_BODY);
  return {
    ok: false,
    retryable,
    status,
    error: redactIn(`receiver answered HTTP ${status}${snippet ? `: ${snippet}` : ""}`, url),
    ...(wait !== undefined ? { retryAfterMs: wait } : {}),
  };
}

/** Where a sink URL sends: parsed once per URL (a sink has one). */
interface Target {
  origin: string;
  path: string;
}

/**
 * POSTs with undici's dispatcher over keep-alive connections (up to 16 per receiver), handling the
 * answer in callbacks: no response stream, no promise chain, no timer or abort listener per try
 * (undici's own header and body timeouts bound a try; one listener per shutdown signal aborts
 * what is in flight). That is a third of the CPU of `fetch`-style requests per POST, which matters
 * when thousands of alerts go out. 2xx is delivered; 408, 429, 5xx and network failures are worth
 * another try; any other status is final. Errors never show the URL.
 */
export function undiciPoster(): Poster {
  const agent = new Agent({ connections: 16, keepAliveTimeout: 10_000 });
  const targets = new Map<string, Target>();
  const inFlight = new Set<(error: Error) => void>();
  const watched = new WeakSet<AbortSignal>();
  const targetOf = (url: string) => {
    let target = targets.get(url);
    if (target === undefined) {
      const parsed = new URL(url);
      target = { origin: parsed.origin, path: `${parsed.pathname}${parsed.search}` };
      targets.set(url, target);
    }
    return target;
  };
  const watch = (signal: AbortSignal) => {
    if (watched.has(signal)) return;
    watched.add(signal);
    signal.addEventListener(
      "abort",
      () => {
        for (const abort of [...inFlight]) abort(signal.reason as Error);
      },
      { once: true },
    );
  };
  const post = (
    url: string,
    body: string,
    headers: Record<string, string>,
    attempt: Pick<Attempt, "signal" | "timeoutMs">,
  ) =>
    new Promise<SendOutcome>((resolve) => {
      const { signal, timeoutMs } = attempt;
      let abort: ((error: Error) => void) | undefined;
      let settled = false;
      const finish = (outcome: SendOutcome) => {
        if (settled) return;
        settled = true;
        if (abort !== undefined) inFlight.delete(abort);
        resolve(outcome);
      };
      const failed = (error: unknown) =>
        finish({ ok: false, retryable: true, error: redactIn(describe(error, signal), url) });
      if (signal.aborted) return failed(signal.reason);
      let target: Target;
      try {
        target = targetOf(url);
      } catch (error) {
        return finish({ ok: false, retryable: false, error: redactIn(describe(error, signal), url) });
      }
      watch(signal);
      let status = 0;
      let retryAfter: string | undefined;
      let text = "";
      const handler: Dispatcher.DispatchHandler = {
        onConnect(abortRequest) {
          abort = abortRequest;
          inFlight.add(abortRequest);
        },
        onHeaders(statusCode, rawHeaders) {
          status = statusCode;
          if (statusCode < 200 || statusCode >= 300) {
            for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
              if (String(rawHeaders[i]).toLowerCase() === "retry-after") retryAfter = String(rawHeaders[i + 1]);
            }
          }
          return true;
        },
        // The body is read to the end (the connection is then reused), kept only in part.
        onData(chunk) {
          if ((status < 200 || status >= 300) && text.length < MAX_ERROR_BODY * 2) text += chunk.toString("utf8");
          return true;
        },
        onComplete() {
          finish(status >= 200 && status < 300 ? { ok: true, status } : failure(status, text, url, retryAfter));
        },
        onError: failed,
      };
      try {
        agent.dispatch(
          {
            origin: target.origin,
            path: target.path,
            method: "POST",
            headers: { "content-type": "application/json", "user-agent": "tollgate-alerts", ...headers },
            body,
            headersTimeout: timeoutMs,
            bodyTimeout: timeoutMs,
          },
          handler,
        );
      } catch (error) {
        failed(error);
      }
    });
  return Object.assign(post, {
    close() {
      void agent.destroy().catch(() => {});
    },
  });
}
