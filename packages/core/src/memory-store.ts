import { algorithms, type CounterState } from "./algorithms/index.js";
import { periodBounds } from "./calendar.js";
import { ClaimTable } from "./claims.js";
import { type Clock, systemClock } from "./clock.js";
import { evaluateDecision } from "./evaluate.js";
import type { AdjustItem, CounterRef, DecideRequest, DecideResult, ReleaseItem, SeedItem, Store } from "./store.js";

export interface MemoryStoreOptions {
  /** Time source; inject a manual clock in tests. */
  clock?: Clock;
  /**
   * Upper bound on live counters. When reached, the oldest-created counter is dropped first
   * (after expired ones): that subject starts afresh and may get up to one extra allowance. Set it
   * well above your live subjects x limits; unbounded by default.
   */
  maxKeys?: number;
  /**
   * Entries examined for expiry each time a counter is created (amortised reclamation instead of a
   * timer per key); one more is examined every 16 operations. Default 2: reclamation then outpaces
   * creation, so expired counters never outnumber live ones for long. 0 disables it (call `sweep()`).
   */
  sweepPerOperation?: number;
}

/** The in-process store, with introspection for tests and benchmarks. */
export interface MemoryStore extends Store {
  /** Live counters (expired ones not yet reclaimed included). */
  readonly size: number;
  /** Reclaims every expired counter now. */
  sweep(): number;
}

type Table = Map<string, CounterState>;
interface TableEntry {
  limit: CounterRef["limit"];
  entries: Table;
}

/**
 * The embedded default store: counters in process memory. A decision reads and writes its counters
 * synchronously (no await between read and write), so concurrent callers can never race it. State
 * objects are the reference algorithms' own, so its answers are the reference by construction.
 * Expired counters are reclaimed a few at a time on each operation: no timer per key, O(1) per limit.
 *
 * @example
 * const limiter = createLimiter({ store: memoryStore(), limits: [...] });
 */
export function memoryStore(options: MemoryStoreOptions = {}): MemoryStore {
  const clock = options.clock ?? systemClock;
  const maxKeys = options.maxKeys ?? Number.POSITIVE_INFINITY;
  const sweepPerOperation = options.sweepPerOperation ?? 2;
  // counter -> subject id -> state: two lookups on strings we are handed, no key concatenation.
  const tables = new Map<string, { limit: CounterRef["limit"]; entries: Table }>();
  let size = 0;
  let operations = 0;
  let sweepTables: Iterator<{ limit: CounterRef["limit"]; entries: Table }> | undefined;
  let sweepEntries: Iterator<[string, CounterState]> | undefined;
  let sweepCurrent: { limit: CounterRef["limit"]; entries: Table } | undefined;
  const claims = new ClaimTable(clock);

  function tableFor(ref: CounterRef, create: boolean) {
    let table = tables.get(ref.counter);
    if (table === undefined && create) {
      table = { limit: ref.limit, entries: new Map() };
      tables.set(ref.counter, table);
    }
    return table;
  }

  function read(ref: CounterRef, now: number): CounterState | undefined {
    const state = tables.get(ref.counter)?.entries.get(ref.id);
    if (state === undefined) return undefined;
    return algorithms[ref.limit.algorithm].ttlMs(state, ref.limit, now) > 0 ? state : undefined;
  }

  function write(ref: CounterRef, state: CounterState | undefined, now: number) {
    const table = tableFor(ref, true) as { limit: CounterRef["limit"]; entries: Table };
    table.limit = ref.limit;
    const had = table.entries.has(ref.id);
    if (state === undefined || algorithms[ref.limit.algorithm].ttlMs(state, ref.limit, now) <= 0) {
      if (had && table.entries.delete(ref.id)) size--;
      return;
    }
    if (!had) {
      if (size >= maxKeys) evictOne(now);
      size++;
      if (sweepPerOperation > 0) sweepSome(sweepPerOperation, now);
    }
    table.entries.set(ref.id, state);
  }

  /** Advances the reclamation cursor by `budget` entries, deleting expired ones. */
  function sweepSome(budget: number, now: number): number {
    let removed = 0;
    for (let examined = 0; examined < budget; examined++) {
      if (sweepEntries === undefined || sweepCurrent === undefined) {
        sweepTables ??= tables.values();
        const nextTable = sweepTables.next();
        if (nextTable.done) {
          sweepTables = undefined;
          if (tables.size === 0) return removed;
          continue;
        }
        sweepCurrent = nextTable.value;
        sweepEntries = sweepCurrent.entries.entries();
      }
      const next = sweepEntries.next();
      if (next.done) {
        sweepEntries = undefined;
        continue;
      }
      const [id, state] = next.value;
      if (algorithms[sweepCurrent.limit.algorithm].ttlMs(state, sweepCurrent.limit, now) <= 0) {
        sweepCurrent.entries.delete(id);
        size--;
        removed++;
      }
    }
    return removed;
  }

  function evictOne(now: number) {
    if (sweepSome(64, now) > 0) return;
    // Nothing expired nearby: drop the oldest-created counter of the largest table.
    let largest: Table | undefined;
    for (const table of tables.values()) if (!largest || table.entries.size > largest.size) largest = table.entries;
    const oldest = largest?.keys().next();
    if (largest && oldest && !oldest.done) {
      largest.delete(oldest.value);
      size--;
    }
  }

  /** The common single-limit decision, without the per-item arrays. Same rule as the general path. */
  function decideOne(item: CounterRef, request: DecideRequest, now: number): DecideResult {
    const table = tableFor(item, true) as TableEntry;
    let state = table.entries.get(item.id);
    const stored = state !== undefined;
    if (stored && algorithms[item.limit.algorithm].ttlMs(state as CounterState, item.limit, now) <= 0)
      state = undefined;
    const { result, next } = evaluateDecision([state], request.items, request.charge, now);
    if (next !== undefined) {
      const updated = next[0];
      if (state !== undefined && updated !== undefined) table.entries.set(item.id, updated);
      else write(item, updated, now);
    }
    if (sweepPerOperation > 0 && ++operations % 16 === 0) sweepSome(1, now);
    return result;
  }

  /** With `restore`: is a quota counter of this request absent (to be rebuilt from the ledger)? */
  function quotaMissing(request: DecideRequest, now: number): boolean {
    for (const item of request.items) {
      if (item.limit.algorithm === "quota" && read(item, now) === undefined) return true;
    }
    return false;
  }

  return {
    name: "memory",
    synchronous: true,
    get size() {
      return size;
    },
    decide(request: DecideRequest): DecideResult {
      const now = clock.now();
      if (request.restore === true && quotaMissing(request, now))
        return { now, charged: false, outcomes: [], missing: true };
      if (request.items.length === 1) return decideOne(request.items[0] as CounterRef, request, now);
      const { items } = request;
      const count = items.length;
      const itemTables = new Array<TableEntry>(count);
      const states = new Array<CounterState | undefined>(count);
      for (let i = 0; i < count; i++) {
        const item = items[i] as CounterRef;
        const table = tableFor(item, true) as TableEntry;
        itemTables[i] = table;
        const state = table.entries.get(item.id);
        states[i] =
          state !== undefined && algorithms[item.limit.algorithm].ttlMs(state, item.limit, now) > 0 ? state : undefined;
      }
      const { result, next } = evaluateDecision(states, items, request.charge, now);
      if (next !== undefined) {
        for (let i = 0; i < count; i++) {
          const item = items[i] as CounterRef;
          const table = itemTables[i] as TableEntry;
          const state = next[i];
          // Straight overwrite only while the entry is still there: creating another counter of this
          // same decision may have evicted it, and then write() must count it back in.
          if (states[i] !== undefined && state !== undefined && table.entries.has(item.id)) {
            table.entries.set(item.id, state);
          } else write(item, state, now);
        }
      }
      if (sweepPerOperation > 0 && ++operations % 16 === 0) sweepSome(1, now);
      return result;
    },
    adjust(items: readonly AdjustItem[]) {
      const now = clock.now();
      for (const item of items) {
        const algorithm = algorithms[item.limit.algorithm];
        write(item, algorithm.adjust(read(item, now), item.limit, item.delta, now, item.chargedAt), now);
      }
    },
    release(items: readonly ReleaseItem[]) {
      const now = clock.now();
      for (const item of items) {
        write(item, algorithms[item.limit.algorithm].release(read(item, now), item.leaseId, now), now);
      }
    },
    seed(items: readonly SeedItem[]) {
      // Synchronous, so two callers seeding the same counter cannot interleave: the first wins.
      const now = clock.now();
      for (const item of items) {
        if (item.limit.algorithm !== "quota" || read(item, now) !== undefined) continue;
        const { start } = periodBounds(now, item.limit.period ?? "month", item.limit.timeZone);
        if (start === item.start) write(item, { start, count: item.count }, now);
      }
    },
    reset(items: readonly CounterRef[]) {
      for (const item of items) {
        const table = tableFor(item, false);
        if (table?.entries.delete(item.id)) size--;
      }
    },
    sweep() {
      return sweepSome(size + tables.size * 2 + 1, clock.now());
    },
    claimOnce: (key: string, ttlMs: number) => claims.claim(key, ttlMs),
    async ping() {},
    async close() {
      tables.clear();
      claims.clear();
      size = 0;
    },
  };
}
