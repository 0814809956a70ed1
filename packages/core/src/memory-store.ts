import { algorithms, type CounterState } from "./algorithms/index.js";
import { periodBounds } from "./calendar.js";
import { ClaimTable } from "./claims.js";
import { type Clock, systemClock } from "./clock.js";
import { evaluateDecision } from "./evaluate.js";
import type { Limit } from "./limit.js";
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
/** The counters of one limit: subject id -> state. */
interface TableEntry {
  limit: Limit;
  entries: Table;
}

/** A state still matters at `now` (expired ones equal no state and may be deleted). */
function isLive(state: CounterState, limit: Limit, now: number): boolean {
  return algorithms[limit.algorithm].ttlMs(state, limit, now) > 0;
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
  const tables = new Map<string, TableEntry>();
  let size = 0;
  let operations = 0;
  let sweepTables: Iterator<TableEntry> | undefined;
  let sweepEntries: Iterator<[string, CounterState]> | undefined;
  let sweepCurrent: TableEntry | undefined;
  /** Live counters dropped to stay under `maxKeys`: while it does not move, an entry read is still there. */
  let forcedEvictions = 0;
  const claims = new ClaimTable(clock);

  function tableFor(ref: CounterRef): TableEntry {
    let table = tables.get(ref.counter);
    if (table === undefined) {
      table = { limit: ref.limit, entries: new Map() };
      tables.set(ref.counter, table);
    }
    return table;
  }

  /** A counter's state, when it is live. */
  function liveIn(table: TableEntry | undefined, ref: CounterRef, now: number): CounterState | undefined {
    const state = table?.entries.get(ref.id);
    return state !== undefined && isLive(state, ref.limit, now) ? state : undefined;
  }

  function read(ref: CounterRef, now: number): CounterState | undefined {
    return liveIn(tables.get(ref.counter), ref, now);
  }

  function write(ref: CounterRef, state: CounterState | undefined, now: number) {
    const table = tableFor(ref);
    table.limit = ref.limit;
    const had = table.entries.has(ref.id);
    if (state === undefined || !isLive(state, ref.limit, now)) {
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
      if (!isLive(state, sweepCurrent.limit, now)) {
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
      forcedEvictions++;
    }
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
      const { items } = request;
      const count = items.length;
      // Fresh arrays, not ones kept across decisions: storing new states into a long-lived array
      // costs the garbage collector more than allocating these (measured: bench/core).
      const itemTables = new Array<TableEntry>(count);
      const states = new Array<CounterState | undefined>(count);
      const evictionsAtRead = forcedEvictions;
      for (let i = 0; i < count; i++) {
        const item = items[i] as CounterRef;
        const table = tableFor(item);
        itemTables[i] = table;
        states[i] = liveIn(table, item, now);
      }
      const { result, next } = evaluateDecision(states, items, request.charge, now);
      if (next !== undefined) {
        for (let i = 0; i < count; i++) {
          const item = items[i] as CounterRef;
          const { entries } = itemTables[i] as TableEntry;
          const state = next[i];
          // Straight overwrite only while the entry read above is surely still there: creating
          // another counter of this same decision may have evicted it, and then write() must
          // count it back in.
          if (states[i] !== undefined && state !== undefined && forcedEvictions === evictionsAtRead) {
            entries.set(item.id, state);
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
        if (tables.get(item.counter)?.entries.delete(item.id)) size--;
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
