import type { DecideItem, Limit, Outcome } from "@tollgate/core";
import { algCode, quotaBoundsList } from "./codec.js";

/** One decision's items that share a hash slot, as DECIDE reads them. */
export interface EncodedDecision {
  items: readonly DecideItem[];
  /** Per item: its subject's hash (string states) or its lease ZSET (concurrency). */
  keys: readonly string[];
  /** Per item: its field in the subject's hash ('' for concurrency). */
  fields: readonly string[];
  /** The testing clock's ms, or NaN for Redis TIME. */
  now: number;
  /** Client time, to pick the quota periods sent. */
  at: number;
  charge: boolean;
  /** Answer `missing` (and change nothing) when a quota counter is absent: the limiter rebuilds it from the ledger. */
  restore: boolean;
  report: boolean;
}

/** What one slot group of one decision said. */
export interface PartResult {
  now: number;
  charged: boolean;
  outcomes: Outcome[];
  /** With `restore`: a quota counter was absent; nothing was charged. */
  missing?: boolean;
  /** With `report`: each item's view before this charge, and its raw state before and after. */
  before?: { used: number; remaining: number; resetMs: number; raw: Buffer; written: Buffer }[];
}

const HEADER_BYTES = 12; // <BBHd> charge report n now
const STATIC_BYTES = 26; // <c1dddB> alg limit windowMs capacity monitor
const ITEM_BYTES = 2 + STATIC_BYTES + 8 + 2 + 1; // <H> key index, static, <d> cost, <H> lease and <B> field lengths
const QUOTA_BYTES = 48; // <dddddd> periods around the client's clock

const statics = new WeakMap<Limit, Buffer>();

/**
 * The part of an item that depends only on its limit, packed once per limit: most of an item's
 * bytes, and the same for every decision (core keeps one Limit object per configured limit).
 */
function staticPart(limit: Limit): Buffer {
  let bytes = statics.get(limit);
  if (bytes === undefined) {
    bytes = Buffer.alloc(STATIC_BYTES);
    bytes.write(algCode(limit), 0, "latin1");
    bytes.writeDoubleLE(limit.limit, 1);
    bytes.writeDoubleLE(limit.windowMs, 9);
    bytes.writeDoubleLE(limit.capacity, 17);
    bytes[25] = limit.mode === "monitor" ? 1 : 0;
    statics.set(limit, bytes);
  }
  return bytes;
}

/**
 * Packs a batch into DECIDE's KEYS (each distinct key once: a hot subject is one key however many
 * decisions name it) and one binary argument: per decision `<BBHd>` (charge, report, item count,
 * now), then per item `<H>` its key's index, its limit's static part, `<dHc0Bc0>` (cost, lease
 * id, field) and for quotas the six period bounds. Two arguments instead of ~8 strings per item:
 * fewer, cheaper arguments for both ioredis and Redis.
 */
export function encodeBatch(decisions: readonly EncodedDecision[]): { keys: string[]; bytes: Buffer } {
  const keys: string[] = [];
  const indexOf = new Map<string, number>();
  let size = 0;
  for (const decision of decisions) {
    size += HEADER_BYTES;
    for (let i = 0; i < decision.items.length; i++) {
      const item = decision.items[i] as DecideItem;
      size += ITEM_BYTES + (decision.fields[i] as string).length;
      if (item.leaseId) size += Buffer.byteLength(item.leaseId);
      if (item.limit.algorithm === "quota") size += QUOTA_BYTES;
    }
  }
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const decision of decisions) {
    // bit 0: charge; bit 1: restore (a missing quota counter stops the decision)
    out[at] = (decision.charge ? 1 : 0) | (decision.restore ? 2 : 0);
    out[at + 1] = decision.report ? 1 : 0;
    out.writeUInt16LE(decision.items.length, at + 2);
    out.writeDoubleLE(decision.now, at + 4);
    at += HEADER_BYTES;
    for (let i = 0; i < decision.items.length; i++) {
      const item = decision.items[i] as DecideItem;
      const key = decision.keys[i] as string;
      let index = indexOf.get(key);
      if (index === undefined) {
        index = keys.push(key); // Lua's KEYS are 1-based
        indexOf.set(key, index);
      }
      out.writeUInt16LE(index, at);
      out.set(staticPart(item.limit), at + 2);
      at = out.writeDoubleLE(item.cost, at + 2 + STATIC_BYTES);
      const lease = item.leaseId ? out.write(item.leaseId, at + 2, "utf8") : 0;
      out.writeUInt16LE(lease, at);
      at += 2 + lease;
      const field = out.write(decision.fields[i] as string, at + 1, "latin1");
      out[at] = field;
      at += 1 + field;
      if (item.limit.algorithm === "quota") {
        for (const bound of quotaBoundsList(item.limit, decision.at)) at = out.writeDoubleLE(bound, at);
      }
    }
  }
  return { keys, bytes: out };
}

/** -0 reads as 0, as the reference never reports a negative zero. */
const double = (reply: Buffer, at: number) => reply.readDoubleLE(at) + 0;

/**
 * Reads DECIDE's packed answer, one result per decision in order: per decision `<dB` (now,
 * charged), then per item `<BBdddd` (fits, crossed, used, remaining, resetMs, retryAfterMs) and,
 * for a report, `<dddI4` (the uncharged view and the raw state's length), the raw state, `<I4` and
 * the state written.
 */
export function decodeBatch(decisions: readonly EncodedDecision[], reply: Buffer): PartResult[] {
  const results: PartResult[] = new Array(decisions.length);
  let at = 0;
  for (let d = 0; d < decisions.length; d++) {
    const decision = decisions[d] as EncodedDecision;
    const now = double(reply, at);
    const flag = reply[at + 8];
    const charged = flag === 1;
    at += 9;
    const n = decision.items.length;
    const outcomes: Outcome[] = new Array(n);
    const before: PartResult["before"] = decision.report ? new Array(n) : undefined;
    for (let i = 0; i < n; i++) {
      const fits = reply[at] === 1;
      outcomes[i] = {
        fits,
        exceeded: !fits,
        crossed: reply[at + 1] === 1,
        used: double(reply, at + 2),
        remaining: double(reply, at + 10),
        resetMs: double(reply, at + 18),
        retryAfterMs: double(reply, at + 26),
      };
      at += 34;
      if (before) {
        const used = double(reply, at);
        const remaining = double(reply, at + 8);
        const resetMs = double(reply, at + 16);
        const rawLength = reply.readUInt32LE(at + 24);
        const raw = Buffer.from(reply.subarray(at + 28, at + 28 + rawLength));
        at += 28 + rawLength;
        const writtenLength = reply.readUInt32LE(at);
        const written = Buffer.from(reply.subarray(at + 4, at + 4 + writtenLength));
        at += 4 + writtenLength;
        before[i] = { used, remaining, resetMs, raw, written };
      }
    }
    const result: PartResult = before ? { now, charged, outcomes, before } : { now, charged, outcomes };
    if (flag === 2) result.missing = true;
    results[d] = result;
  }
  return results;
}
