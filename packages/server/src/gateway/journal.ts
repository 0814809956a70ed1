import type { AdjustItem, ChargeReceipt, CompiledConfig, CompiledLimit, Store, UsageObserver } from "@tollgate/core";

/**
 * Open reservations, kept where every gateway instance can see them, so that one left behind by
 * an instance that died mid-call is released by another within `reservationTimeout` instead of
 * holding the subject's budget until the period ends.
 */
export interface ReservationJournal {
  /** Records an open reservation of these token and money charges, released unless closed in time. */
  open(
    id: string,
    receipt: ChargeReceipt,
    scope: { plan?: string | undefined; category?: string | undefined },
  ): Promise<void>;
  /** Closes it; false when it had already expired and been released (settle then charges in full). */
  close(id: string): Promise<boolean>;
  /**
   * Releases every expired reservation (any instance may run it; each is released once) and
   * tells `usage` (the ledger) about each refund. Returns how many.
   */
  sweep(config: CompiledConfig, store: Store, usage: UsageObserver): Promise<number>;
}

/**
 * In memory, the counters live in the gateway's own process: when it dies its reservations go
 * with them, and while it lives every call ends (answer, client gone, upstream timeout) with a
 * settle or a refund. Nothing to journal.
 */
export const processJournal: ReservationJournal = {
  open: async () => {},
  close: async () => true,
  sweep: async () => 0,
};

/** What is kept per reservation: [counter, subject id, units], the charge time. */
interface Entry {
  i: [string, string, number][];
  a: number;
  /** plan and category, for the ledger's refund rows */
  p?: string;
  g?: string;
}

/** The part of an ioredis client (single node or cluster) the journal uses. */
export interface EvalClient {
  eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
}

// Both keys share a hash tag: one slot, so the scripts also run on a Redis Cluster.
const OPEN = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
return 1`;
const CLOSE = `
if redis.call('ZREM', KEYS[1], ARGV[1]) == 1 then
  redis.call('HDEL', KEYS[2], ARGV[1])
  return 1
end
return 0`;
const CLAIM_EXPIRED = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 200)
local out = {}
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[1], id)
  local entry = redis.call('HGET', KEYS[2], id)
  redis.call('HDEL', KEYS[2], id)
  if entry then out[#out + 1] = entry end
end
return out`;

function limitsByCounter(config: CompiledConfig): Map<string, CompiledLimit> {
  const map = new Map<string, CompiledLimit>();
  for (const list of [config.global, ...config.plans.values(), ...config.categories.values()]) {
    for (const compiled of list) map.set(compiled.counter, compiled);
  }
  return map;
}

/**
 * The journal on Redis (single node or cluster): a sorted set of reservation ids by expiry (Redis
 * `TIME`, so instance clocks do not matter) and a hash of what each holds. Closing and claiming
 * are atomic scripts, so a reservation is either settled by its gateway or released by one
 * sweeper, never both.
 */
export function redisJournal(client: EvalClient, prefix: string, ttlMs: number): ReservationJournal {
  const keys = [`${prefix}{tollgate-gateway}:reservations`, `${prefix}{tollgate-gateway}:reservation-items`];
  return {
    async open(id, receipt, scope) {
      const items = receipt.items
        .filter((item) => item.limit.unit !== "requests" && item.limit.algorithm !== "concurrency" && item.cost > 0)
        .map((item): [string, string, number] => [item.counter, item.id, item.cost]);
      if (items.length === 0) return;
      const entry: Entry = { i: items, a: receipt.at };
      if (scope.plan !== undefined) entry.p = scope.plan;
      if (scope.category !== undefined) entry.g = scope.category;
      await client.eval(OPEN, 2, ...keys, id, ttlMs, JSON.stringify(entry));
    },
    async close(id) {
      return (await client.eval(CLOSE, 2, ...keys, id)) === 1;
    },
    async sweep(config, store, usage) {
      const entries = (await client.eval(CLAIM_EXPIRED, 2, ...keys)) as string[];
      if (entries.length === 0) return 0;
      const limits = limitsByCounter(config);
      const refunds: AdjustItem[] = [];
      for (const raw of entries) {
        const entry = JSON.parse(raw) as Entry;
        for (const [counter, id, units] of entry.i) {
          const compiled = limits.get(counter);
          // A limit removed since: its counter no longer matters.
          if (!compiled) continue;
          const refund = { counter, id, limit: compiled.limit, delta: -units, chargedAt: entry.a };
          refunds.push(refund);
          usage.record(refund, -units, entry.a, entry.p, entry.g);
        }
      }
      if (refunds.length > 0) await store.adjust(refunds);
      return entries.length;
    },
  };
}
