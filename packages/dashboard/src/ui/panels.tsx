import { countdown, type Denial } from "@tollgate/browser";
import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import type { ApiError } from "../api.js";
import type { Role } from "../types.js";
import { words } from "./format.js";

/**
 * The amber "slow down" panel: recoverable, counted down live from Retry-After; when the wait is
 * over the retry button is enabled (and `onRetry` runs at once when `autoRetry`).
 */
export function LimitedPanel(props: { denial: Denial; onRetry: () => void; autoRetry?: boolean }) {
  const [left, setLeft] = useState(props.denial.retryAfter ?? 0);
  useEffect(() => {
    const controller = new AbortController();
    const run = countdown(props.denial.retryAfter ?? 0, setLeft, { signal: controller.signal });
    run.done.then(() => {
      if (!controller.signal.aborted && props.autoRetry) props.onRetry();
    });
    return () => controller.abort();
  }, [props.denial, props.autoRetry, props.onRetry]);
  const quota = props.denial.kind === "quota_exceeded";
  return (
    <section class="panel panel-limited" role="status" aria-live="polite" data-testid="limited-panel">
      <h2>{quota ? "Allowance used up" : "Slow down a moment"}</h2>
      <p data-testid="limited-message">
        {left > 0 ? (quota ? props.denial.message : words.retryIn(left)) : "You can try again now."}
      </p>
      <button type="button" onClick={props.onRetry} disabled={left > 0}>
        {left > 0 ? `Retry in ${left} s` : "Retry"}
      </button>
    </section>
  );
}

/** The friendly "your role doesn't permit this" panel, naming the role needed. */
export function ForbiddenPanel(props: { error?: ApiError; role?: Role; needs?: string }) {
  const needs = props.needs ?? props.error?.problem.needed;
  return (
    <section class="panel panel-forbidden" role="alert" data-testid="forbidden-panel">
      <h2>Your role doesn't permit this</h2>
      <p>
        {needs ? `This needs the ${needs} role` : "This needs a higher role"}
        {props.role ? `; you are signed in as ${props.role}.` : "."} Ask an admin for a token with that role.
      </p>
    </section>
  );
}

/** Red: something failed that waiting will not fix. */
export function ErrorPanel(props: { error: ApiError | Error; children?: ComponentChildren }) {
  return (
    <section class="panel panel-error" role="alert">
      <h2>Something went wrong</h2>
      <p>{props.error.message}</p>
      {props.children}
    </section>
  );
}

/** Neutral: the route is not on this server (an older version). */
export function Unavailable(props: { what: string }) {
  return (
    <p class="unavailable" data-testid="unavailable">
      {props.what} is not available on this server yet. Upgrade the server to see it here.
    </p>
  );
}

/** The right panel for a failed load: 403 friendly, 404/501 "not available", 429 handled globally, else red. */
export function Failure(props: { error: ApiError; what: string; role?: Role }) {
  const { error } = props;
  if (error.status === 403) return <ForbiddenPanel error={error} {...(props.role ? { role: props.role } : {})} />;
  if (error.unavailable) return <Unavailable what={props.what} />;
  if (error.status === 429 || error.status === 401) return null;
  return <ErrorPanel error={error} />;
}
