import type { Algorithm } from "./types.js";

/** Leases in flight: lease id -> expiry (ms). A crashed holder's lease expires after the TTL. */
export interface ConcurrencyState {
  leases: Readonly<Record<string, number>>;
}

function liveExpiries(state: ConcurrencyState | undefined, now: number): number[] {
  if (state === undefined) return [];
  return Object.values(state.leases).filter((expiry) => expiry > now);
}

function liveLeases(state: ConcurrencyState | undefined, now: number): Record<string, number> {
  const live: Record<string, number> = {};
  if (state === undefined) return live;
  for (const [id, expiry] of Object.entries(state.leases)) if (expiry > now) live[id] = expiry;
  return live;
}

/**
 * At most `limit` requests in flight per subject. Each admitted request holds a lease (cost 1;
 * cost 0 peeks) released on completion or expired after `window` (the lease TTL) if its holder
 * died. Retry-after of a denial is when enough leases expire at the latest.
 */
export const concurrency: Algorithm<ConcurrencyState> = {
  charge(state, limit, cost, now, leaseId) {
    const leases = liveLeases(state, now);
    const expiries = Object.values(leases).sort((a, b) => a - b);
    const fits = expiries.length + cost <= limit.limit;
    if (cost > 0) leases[leaseId ?? `anonymous-${now}`] = now + limit.windowMs;
    let retryAfterMs = 0;
    if (!fits) {
      const mustExpire = expiries.length + cost - limit.limit;
      retryAfterMs = cost > limit.limit ? Number.POSITIVE_INFINITY : (expiries[mustExpire - 1] as number) - now;
    }
    return { fits, next: { leases }, retryAfterMs };
  },
  view(state, limit, now) {
    const expiries = liveExpiries(state, now);
    const soonest = expiries.length === 0 ? now : Math.min(...expiries);
    return { used: expiries.length, remaining: Math.max(0, limit.limit - expiries.length), resetMs: soonest - now };
  },
  adjust: (state) => state,
  release(state, leaseId, now) {
    if (state === undefined || !(leaseId in state.leases)) return state;
    const leases = liveLeases(state, now);
    delete leases[leaseId];
    return { leases };
  },
  ttlMs(state, _limit, now) {
    const expiries = liveExpiries(state, now);
    return expiries.length === 0 ? 0 : Math.max(...expiries) - now;
  },
};
