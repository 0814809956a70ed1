import type {
  AdjustItem,
  Clock,
  CounterRef,
  DecideItem,
  DecideRequest,
  DecideResult,
  Outcome,
  ReleaseItem,
  SeedItem,
  Store,
} from "@tollgate/core";
import type { Cluster, Redis } from "ioredis";
import { Batcher, type BatchOptions, type PartResult } from "./batcher.js";
import { addLimitRecords, chargedPeriod, periodsRecord } from "./codec.js";
import { connect } from "./connection.js";
import { DenyCache, type DenyCacheOptions } from "./deny-cache.js";
import { claimKey, counterHash, type Subject, SubjectMemo, validatePrefix } from "./keys.js";
import { ADJUST, RELEASE, SEED, UNDO } from "./lua/scripts.js";
import { ReplyClock } from "./progress.js";
import { run, type Script, script } from "./script.js";
import { ADJUST_ITEM, HEADER, KeyList, RELEASE_ITEM, RecordWriter, SEED_ITEM, UNDO_ITEM } from "./wire.js";

const adjustScript = script(ADJUST);
const releaseScript = script(RELEASE);
const undoScript = script(UNDO);
const seedScript = script(SEED);

/** Under a testing clock, Redis expiry (real time) must not beat the manual clock: keys live 10 min longer. */
const TESTING_TTL_PAD_MS = 600_000;

export interface RedisStoreOptions {
  /** An ioredis client or Cluster you own (we do not close it). */
  client?: Redis | Cluster;
  /** `redis://host:port` when no client is given. Default redis://127.0.0.1:6379. */
  url?: string;
  /** Redis Cluster seed nodes, `"host:port"`. */
  nodes?: string[];
  /** Key prefix, without `{` or `}`. Default "tg". */
  prefix?: string;
  /**
   * TESTING ONLY: decide at this clock's time instead of Redis `TIME`, so a test can move time by
   * hand. Production stores must leave it out: the store's own clock is what makes skewed app
   * servers agree.
   */
  clock?: Clock;
  /** Batching of decisions issued in the same event-loop turn. */
  batch?: BatchOptions;
  /** Local answers for repeated denials; `false` disables it. */
  denyCache?: DenyCacheOptions | false;
  /** Connection errors of a client the store created (default: ignored; decisions report them). */
  onError?: (error: Error) => void;
}

/** The Redis store, with counters for tests and benches. */
export interface RedisStore extends Store {
  readonly client: Redis | Cluster;
  /** Script calls that decided, and decisions answered by the deny cache. */
  stats(): { decideCalls: number; denyCacheHits: number };
  close(): Promise<void>;
}

/** Where each counter of a request lives. */
interface Prepared {
  /** Its subject's hash (string states) or its lease ZSET (concurrency). */
  keys: string[];
  /** Its field in the subject's hash ('' for concurrency). */
  fields: string[];
  /** Its identity (`counterKey`), for the deny cache ('' without one). */
  ids: string[];
  slots: number[];
}

/**
 * A Store for `@tollgate/core` on Redis or Redis Cluster: every decision is one Lua script per
 * hash slot (a subject's limits share a slot), batched with the decisions issued in the same tick,
 * decided at Redis `TIME`, every key written with the TTL its algorithm needs.
 *
 * @example
 * import { createLimiter } from "@tollgate/core";
 * import { redisStore } from "@tollgate/redis";
 * const limiter = createLimiter({
 *   store: redisStore({ url: process.env.TOLLGATE_REDIS_URL }),
 *   limits: [{ name: "minute", per: "user", algorithm: "fixed-window", limit: 10, window: "1m" }],
 * });
 * await limiter.check({ subject: { user: "u-42" } });
 */
export function redisStore(options: RedisStoreOptions = {}): RedisStore {
  const prefix = validatePrefix(options.prefix ?? "tg");
  const connection = connect(options);
  const { client, cluster } = connection;
  const clock = options.clock;
  const pad = clock ? TESTING_TTL_PAD_MS : 0;
  const batcher = new Batcher(client, pad, options.batch);
  const replies = new ReplyClock(client, cluster);
  const denials = options.denyCache === false ? undefined : new DenyCache(options.denyCache || {});
  // Store-time estimate for the deny cache: local time + (Redis time - local send time). It can
  // only run ahead of Redis (the script runs after the send), so a denial never outlives its end.
  let offset = 0;
  const localNow = () => performance.timeOrigin + performance.now();
  const storeNow = () => (clock ? clock.now() : localNow() + offset);
  /**
   * Runs a rare-path script: KEYS and one input, HEADER then each item's records (wire.ts). It
   * acts at the testing clock's time, or (NaN) at Redis TIME.
   */
  function call(s: Script, items: (keys: KeyList, input: RecordWriter) => void) {
    const keys = new KeyList();
    const input = new RecordWriter().add(HEADER, { pad, now: clock ? clock.now() : Number.NaN });
    items(keys, input);
    return run(client, s, keys.keys, [input.finish()]);
  }

  const subjects = new SubjectMemo(prefix);

  /** The master holding a slot, `host:port` (the slot map is ioredis's, refreshed on MOVED). */
  function masterOf(slot: number): string {
    return (client as Cluster).slots[slot]?.[0] ?? "cluster";
  }

  /** Tags a failure with the node it came from, so only that node's breaker hears of it. */
  function fromNode(error: unknown, slot: number): unknown {
    if (cluster && error instanceof Error) Object.assign(error, { partition: masterOf(slot) });
    return error;
  }

  function locate(refs: readonly CounterRef[]): Prepared {
    const n = refs.length;
    const keys = new Array<string>(n);
    const fields = new Array<string>(n);
    const ids = new Array<string>(n);
    const slots = new Array<number>(n);
    let subject: Subject | undefined;
    for (let i = 0; i < n; i++) {
      const ref = refs[i] as CounterRef;
      const previous = i > 0 ? (refs[i - 1] as CounterRef) : undefined;
      // A request's limits usually name one subject again and again: look it up once.
      if (subject === undefined || ref.id !== previous?.id || ref.limit.per !== previous.limit.per) {
        subject = subjects.get(ref.limit.per, ref.id);
      }
      const field = counterHash(ref.counter);
      const leases = ref.limit.algorithm === "concurrency";
      // counterKey(prefix, tag, counter): the lease ZSET, and the deny cache's name for a counter
      const id = leases || denials ? `${subject.key}:${field}` : "";
      ids[i] = id;
      keys[i] = leases ? id : subject.key;
      fields[i] = leases ? "" : field;
      slots[i] = cluster ? subject.slot : 0;
    }
    return { keys, fields, ids, slots };
  }

  function sameSlot(slots: number[]): boolean {
    for (let i = 1; i < slots.length; i++) if (slots[i] !== slots[0]) return false;
    return true;
  }

  /** Indexes of refs per slot, in first-seen order. */
  function groups(slots: number[]): Map<number, number[]> {
    const bySlot = new Map<number, number[]>();
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i] as number;
      const list = bySlot.get(slot);
      if (list) list.push(i);
      else bySlot.set(slot, [i]);
    }
    return bySlot;
  }

  function submitPart(
    slot: number,
    indexes: number[],
    request: DecideRequest,
    where: Prepared,
    now: number,
    at: number,
    report: boolean,
  ): Promise<PartResult> {
    return new Promise<PartResult>((resolve, reject) => {
      const n = indexes.length;
      const keys: string[] = new Array(n);
      const fields: string[] = new Array(n);
      const items: DecideItem[] = new Array(n);
      for (let j = 0; j < n; j++) {
        const i = indexes[j] as number;
        keys[j] = where.keys[i] as string;
        fields[j] = where.fields[i] as string;
        items[j] = request.items[i] as DecideItem;
      }
      batcher.submit({
        slot,
        keys,
        fields,
        items,
        now,
        at,
        charge: request.charge,
        restore: request.restore === true,
        report,
        resolve,
        reject: (error) => reject(fromNode(error, slot)),
      });
    });
  }

  /** Takes back the charges of slot groups whose decision another group denied. */
  async function undo(items: readonly DecideItem[], where: Prepared, indexes: number[], part: PartResult) {
    const at = clock ? clock.now() : localNow();
    await call(undoScript, (keys, input) => {
      indexes.forEach((i, j) => {
        const item = items[i] as DecideItem;
        const before = part.before?.[j];
        input.add(UNDO_ITEM, {
          key: keys.indexOf(where.keys[i] as string),
          field: where.fields[i] as string,
          cost: item.cost,
          lease: item.leaseId ?? "",
          chargedAt: part.now,
          chargedPeriod: chargedPeriod(item.limit, part.now),
          stateBefore: before?.raw ?? "",
          stateWritten: before?.written ?? "",
        });
        addLimitRecords(input, item.limit, at);
      });
    });
  }

  async function decideSpread(
    request: DecideRequest,
    where: Prepared,
    bySlot: Map<number, number[]>,
    now: number,
    at: number,
  ) {
    const entries = [...bySlot];
    const settled = await Promise.allSettled(
      entries.map(([slot, indexes]) => submitPart(slot, indexes, request, where, now, at, true)),
    );
    const failure = settled.find((s) => s.status === "rejected");
    const parts = settled.map((s) => (s.status === "fulfilled" ? s.value : undefined));
    const charged = failure === undefined && parts.every((p) => p?.charged === true);
    const missing = parts.some((p) => p?.missing === true);
    if (!charged) {
      // Never over-admit: a group that charged while another denied (or failed) gives it back.
      await Promise.all(
        entries.map(([, indexes], g) => {
          const part = parts[g];
          return part?.charged ? undo(request.items, where, indexes, part) : undefined;
        }),
      );
    }
    if (failure) throw (failure as PromiseRejectedResult).reason;
    const outcomes: Outcome[] = new Array(request.items.length);
    entries.forEach(([, indexes], g) => {
      const part = parts[g] as PartResult;
      indexes.forEach((i, j) => {
        const outcome = part.outcomes[j] as Outcome;
        const before = part.before?.[j];
        outcomes[i] =
          charged || !part.charged || before === undefined
            ? outcome
            : { ...outcome, crossed: false, used: before.used, remaining: before.remaining, resetMs: before.resetMs };
      });
    });
    const result: DecideResult = { now: (parts[0] as PartResult).now, charged, outcomes };
    if (missing) result.missing = true;
    return result;
  }

  async function decide(request: DecideRequest): Promise<DecideResult> {
    const { items } = request;
    const where = locate(items);
    const { ids, slots } = where;
    const cacheable = denials !== undefined && DenyCache.eligible(items, request.charge);
    const signature = cacheable ? DenyCache.signature(ids, items) : "";
    if (cacheable) {
      const cached = denials.lookup(signature, storeNow());
      if (cached) return cached;
    }
    const handshake = connection.ready();
    if (handshake) await handshake;
    const sentAt = localNow();
    const now = clock ? clock.now() : Number.NaN; // NaN: the script reads Redis TIME
    const at = clock ? now : sentAt;
    let result: DecideResult;
    if (!cluster || sameSlot(slots)) {
      // The usual case, one script call: the request's own arrays are the part.
      const part = await new Promise<PartResult>((resolve, reject) => {
        const { keys, fields } = where;
        batcher.submit({
          slot: slots[0] ?? 0,
          keys,
          fields,
          items,
          now,
          at,
          charge: request.charge,
          restore: request.restore === true,
          report: false,
          resolve,
          reject,
        });
      });
      result = part; // no undo report asked, so exactly { now, charged, outcomes }
    } else {
      result = await decideSpread(request, where, groups(slots), now, at);
    }
    if (!clock) offset = result.now - sentAt;
    if (denials) {
      if (result.charged) denials.invalidate(ids);
      else if (cacheable && result.missing !== true) denials.remember(signature, ids, items, result);
    }
    return result;
  }

  async function perSlot(refs: readonly CounterRef[], call: (where: Prepared, indexes: number[]) => Promise<unknown>) {
    await connection.ready();
    const where = locate(refs);
    denials?.invalidate(where.ids);
    await Promise.all([...groups(where.slots).values()].map((indexes) => call(where, indexes)));
  }

  return {
    name: "redis",
    client,
    decide,
    adjust(items: readonly AdjustItem[]) {
      return perSlot(items, (where, indexes) => {
        const at = clock ? clock.now() : localNow();
        return call(adjustScript, (keys, input) => {
          for (const i of indexes) {
            const item = items[i] as AdjustItem;
            input.add(ADJUST_ITEM, {
              key: keys.indexOf(where.keys[i] as string),
              field: where.fields[i] as string,
              delta: item.delta,
              chargedAt: item.chargedAt,
              chargedPeriod: chargedPeriod(item.limit, item.chargedAt),
            });
            addLimitRecords(input, item.limit, at);
          }
        });
      });
    },
    seed(items: readonly SeedItem[]) {
      return perSlot(items, (where, indexes) => {
        const at = clock ? clock.now() : localNow();
        return call(seedScript, (keys, input) => {
          for (const i of indexes) {
            const item = items[i] as SeedItem;
            input.add(SEED_ITEM, {
              key: keys.indexOf(where.keys[i] as string),
              field: where.fields[i] as string,
              periodStart: item.start,
              count: item.count,
            });
            input.raw(periodsRecord(item.limit, at));
          }
        });
      });
    },
    release(items: readonly ReleaseItem[]) {
      return perSlot(items, (where, indexes) =>
        call(releaseScript, (keys, input) => {
          for (const i of indexes) {
            const lease = (items[i] as ReleaseItem).leaseId;
            input.add(RELEASE_ITEM, { key: keys.indexOf(where.keys[i] as string), lease });
          }
        }),
      );
    },
    reset(items: readonly CounterRef[]) {
      // A string-state counter is a field of its subject's hash; a concurrency counter, its own ZSET.
      return perSlot(items, (where, indexes) =>
        Promise.all(
          indexes.map((i) => {
            const key = where.keys[i] as string;
            const field = where.fields[i] as string;
            return field === "" ? client.del(key) : client.hdel(key, field);
          }),
        ),
      );
    },
    async claimOnce(key: string, ttlMs: number) {
      await connection.ready();
      // SET NX PX: one atomic command, so the key cannot outlive its expiry and only one caller wins.
      const ttl = Math.max(1, Math.ceil(ttlMs)) + pad;
      const reply = await client.set(claimKey(prefix, key), "1", "PX", ttl, "NX");
      return reply === "OK";
    },
    async ping(partition?: string) {
      await connection.ready();
      if (!cluster) {
        await client.ping();
        return;
      }
      if (partition === undefined || partition === "cluster") {
        // Every master: readiness means each slot's node answers, and the first decisions then
        // find their connections open instead of paying the connect in their store time.
        const masters = (client as Cluster).nodes("master");
        if (masters.length === 0) await client.ping();
        else await Promise.all(masters.map((node) => node.ping()));
        return;
      }
      const node = (client as Cluster).nodes("master").find((n) => `${n.options.host}:${n.options.port}` === partition);
      if (node === undefined) throw new Error(`redis: no master ${partition} in the cluster's slot map`);
      await node.ping();
    },
    ...(cluster
      ? {
          partitionsOf(refs: readonly CounterRef[]): readonly string[] {
            // A subject's counters share its hash slot: usually one lookup per request.
            let first: string | undefined;
            let more: Set<string> | undefined;
            for (let i = 0; i < refs.length; i++) {
              const ref = refs[i] as CounterRef;
              const master = masterOf(subjects.get(ref.limit.per, ref.id).slot);
              if (first === undefined) first = master;
              else if (master !== first) {
                more ??= new Set([first]);
                more.add(master);
              }
            }
            return more ? [...more] : [first ?? "cluster"];
          },
        }
      : {}),
    lastReplyAt: (node: string) => replies.lastReplyAt(node),
    stats: () => ({ decideCalls: batcher.calls, denyCacheHits: denials?.hits ?? 0 }),
    async close() {
      if (!connection.owned) return;
      try {
        await client.quit();
      } catch {
        client.disconnect();
      }
    },
  };
}
