import type { Decision, Limiter, Subject } from "@tollgate/core";

/** One limit as a usage counter shows it. `reset` is seconds from now. */
export interface LimitUsage {
  name: string;
  used: number;
  limit: number;
  remaining: number;
  reset: number;
}

/**
 * The body of a usage endpoint: every enforced limit of the caller, plus the tightest one at the
 * top level (`{used, limit, remaining, reset}`) for a simple "2 of 3 left today" counter.
 */
export interface UsageReport extends Partial<LimitUsage> {
  plan?: string;
  limits: LimitUsage[];
}

/** Shapes a peeked decision as a usage report. Monitor-only limits are left out: they are not the caller's budget. */
export function usageReport(decision: Decision): UsageReport {
  const limits = decision.limits
    .filter((status) => status.mode === "enforce")
    .map(({ name, used, limit, remaining, reset }) => ({ name, used, limit, remaining, reset }));
  const tightest = limits.reduce<LimitUsage | undefined>(
    (best, usage) => (best === undefined || usage.remaining < best.remaining ? usage : best),
    undefined,
  );
  return {
    ...(decision.plan !== undefined ? { plan: decision.plan } : {}),
    ...(tightest
      ? { used: tightest.used, limit: tightest.limit, remaining: tightest.remaining, reset: tightest.reset }
      : {}),
    limits,
  };
}

/**
 * Reads the caller's usage without charging anything (`limiter.peek`), for `GET /api/usage`.
 * Works the same for anonymous (IP) and signed-in subjects. With no limiter, an empty report.
 *
 * @example
 * const report = await readUsage(limiter, { subject: { user: "u-42", ip: "203.0.113.7" } });
 * // { plan: "signed-in", used: 1, limit: 3, remaining: 2, reset: 50000, limits: [...] }
 */
export async function readUsage(
  limiter: Limiter | null | undefined,
  input: { subject: Subject; category?: string; plan?: string },
): Promise<UsageReport> {
  if (!limiter) return { limits: [] };
  return usageReport(await limiter.peek(input));
}
