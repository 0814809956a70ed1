import type { DecideItem, Limit, Outcome } from "@tollgate/core";
import { limitRecord, periodsRecord } from "./codec.js";
import { DECIDE_ITEM, DECISION, DECISION_RESULT, HEADER, KeyList, LIMITS, OUTCOME, REPORT } from "./wire.js";

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

/**
 * DECIDE's input (wire.ts): HEADER; LIMITS, each distinct limit's LIMIT record (packed once per
 * limit) and, for quotas, PERIODS; then per decision DECISION and per item DECIDE_ITEM. KEYS hold
 * each distinct key once: a hot subject is one key however many decisions name it.
 */
export function encodeBatch(decisions: readonly EncodedDecision[], pad: number): { keys: string[]; bytes: Buffer } {
  const keys = new KeyList();
  const limitIndexes = new Map<Limit, number>();
  const limitRecords: Buffer[] = [];
  let size = HEADER.fixedSize + LIMITS.fixedSize + decisions.length * DECISION.fixedSize;
  for (const decision of decisions) {
    for (let i = 0; i < decision.items.length; i++) {
      const item = decision.items[i] as DecideItem;
      if (!limitIndexes.has(item.limit)) {
        limitIndexes.set(item.limit, limitIndexes.size + 1);
        const record = limitRecord(item.limit);
        limitRecords.push(record);
        size += record.length;
        if (item.limit.algorithm === "quota") {
          // The periods around the first decision's clock: a batch spans microseconds, and the
          // script picks whichever of the three holds each decision's time.
          const periods = periodsRecord(item.limit, decision.at);
          limitRecords.push(periods);
          size += periods.length;
        }
      }
      // field: base64url (1 byte a char); lease: any text
      size += ITEM_STRINGS + (decision.fields[i] as string).length;
      if (item.leaseId) size += Buffer.byteLength(item.leaseId);
    }
  }
  if (limitIndexes.size > 65_535) throw new RangeError("redis store: more than 65,535 limits in one script call");
  const out = Buffer.allocUnsafe(size);
  let at = HEADER.write(out, 0, { pad, now: Number.NaN });
  at = LIMITS.write(out, at, { count: limitIndexes.size });
  for (const record of limitRecords) at += record.copy(out, at);
  const D = DECISION.offset;
  for (const decision of decisions) {
    // DECISION, unrolled (all its fields are fixed-size)
    out[at + D.flags] = (decision.charge ? 1 : 0) | (decision.restore ? 2 : 0) | (decision.report ? 4 : 0);
    out.writeUInt16LE(decision.items.length, at + D.items);
    out.writeDoubleLE(decision.now, at + D.now);
    at += DECISION.fixedSize;
    for (let i = 0; i < decision.items.length; i++) {
      const item = decision.items[i] as DecideItem;
      at = writeDecideItem(out, at, {
        key: keys.indexOf(decision.keys[i] as string),
        limitIndex: limitIndexes.get(item.limit) as number,
        cost: item.cost,
        field: decision.fields[i] as string,
        lease: item.leaseId ?? "",
      });
    }
  }
  return { keys: keys.keys, bytes: out };
}

/** DECIDE_ITEM's bytes besides its strings' contents: its fixed fields and the strings' lengths. */
const ITEM_STRINGS = DECIDE_ITEM.offset.field + 1 + 2;

/**
 * DECIDE_ITEM.write, unrolled: the hot path's record (its fixed fields first, so they sit at
 * fixed offsets). wire.test.ts checks it writes exactly what DECIDE_ITEM.write does.
 */
export function writeDecideItem(
  out: Buffer,
  at: number,
  item: { key: number; limitIndex: number; cost: number; field: string; lease: string },
): number {
  const offset = DECIDE_ITEM.offset;
  out.writeUInt16LE(item.key, at + offset.key);
  out.writeUInt16LE(item.limitIndex, at + offset.limitIndex);
  out.writeDoubleLE(item.cost, at + offset.cost);
  at += offset.field;
  const field = out.write(item.field, at + 1, "latin1");
  out[at] = field;
  at += 1 + field;
  const lease = item.lease === "" ? 0 : out.write(item.lease, at + 2, "utf8");
  if (lease > 65_535) throw new RangeError(`redis store: lease is too long (${lease} bytes)`);
  out.writeUInt16LE(lease, at);
  return at + 2 + lease;
}

/** -0 reads as 0, as the reference never reports a negative zero. */
const double = (reply: Buffer, at: number) => reply.readDoubleLE(at) + 0;

/** Reads a `str32` field at `at`: its bytes (copied), and the offset after it. */
function str32(reply: Buffer, at: number): [Buffer, number] {
  const length = reply.readUInt32LE(at);
  return [Buffer.from(reply.subarray(at + 4, at + 4 + length)), at + 4 + length];
}

/**
 * Reads DECIDE's answer, one result per decision in order: DECISION_RESULT, then per item OUTCOME
 * and, with `report`, REPORT (wire.ts).
 */
export function decodeBatch(decisions: readonly EncodedDecision[], reply: Buffer): PartResult[] {
  const results: PartResult[] = new Array(decisions.length);
  const R = DECISION_RESULT.offset;
  const O = OUTCOME.offset;
  const B = REPORT.offset;
  let at = 0;
  for (let d = 0; d < decisions.length; d++) {
    const decision = decisions[d] as EncodedDecision;
    const now = double(reply, at + R.now);
    const status = reply[at + R.status];
    at += DECISION_RESULT.fixedSize;
    const n = decision.items.length;
    const outcomes: Outcome[] = new Array(n);
    const before: PartResult["before"] = decision.report ? new Array(n) : undefined;
    for (let i = 0; i < n; i++) {
      const fits = reply[at + O.fits] === 1;
      outcomes[i] = {
        fits,
        exceeded: !fits,
        crossed: reply[at + O.crossed] === 1,
        used: double(reply, at + O.used),
        remaining: double(reply, at + O.remaining),
        resetMs: double(reply, at + O.resetMs),
        retryAfterMs: double(reply, at + O.retryAfterMs),
      };
      at += OUTCOME.fixedSize;
      if (before) {
        const used = double(reply, at + B.usedBefore);
        const remaining = double(reply, at + B.remainingBefore);
        const resetMs = double(reply, at + B.resetMsBefore);
        const [raw, afterRaw] = str32(reply, at + B.stateBefore);
        const [written, end] = str32(reply, afterRaw);
        at = end;
        before[i] = { used, remaining, resetMs, raw, written };
      }
    }
    const result: PartResult = before
      ? { now, charged: status === 1, outcomes, before }
      : { now, charged: status === 1, outcomes };
    if (status === 2) result.missing = true;
    results[d] = result;
  }
  return results;
}
