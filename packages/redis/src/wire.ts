/**
 * The one wire format of every script (DECIDE, ADJUST, UNDO, SEED, RELEASE): a script takes its
 * KEYS (each distinct key once) and ONE binary argument, a sequence of the records below, packed
 * little-endian as Redis's Lua `struct` library reads them. Each record is declared once here,
 * with named fields: the client writes it by name (`write`), and a script reads it with the Lua
 * line `unpack` generates, `local name1, name2, ..., pos = struct.unpack('<...', input, pos)`, so
 * both sides name the same fields in the same order. Replies use the same records.
 */

/** Field types: `struct` codes (`c0` strings take their length from the number before them). */
const CODES = {
  u8: "B",
  u16: "H",
  f64: "d",
  char: "c1",
  str8: "Bc0",
  str16: "Hc0",
  str32: "I4c0",
} as const;
type FieldType = keyof typeof CODES;
type Value<T extends FieldType> = T extends "char" | "str8" | "str16" | "str32" ? string | Buffer : number;

const FIXED_BYTES: Partial<Record<FieldType, number>> = { u8: 1, u16: 2, f64: 8, char: 1 };
const LENGTH_BYTES: Partial<Record<FieldType, number>> = { str8: 1, str16: 2, str32: 4 };

/** A record: named fields in wire order. */
export class WireRecord<F extends Record<string, FieldType>> {
  /** The `struct` format, e.g. `<HdHc0Bc0`. */
  readonly format: string;
  /** Byte offset of each field when every field before it is fixed-size (replies read by offset). */
  readonly offset: { readonly [K in keyof F]: number };
  /** Bytes of the record when all its fields are fixed-size. */
  readonly fixedSize: number;
  private readonly names: (keyof F & string)[];

  constructor(readonly fields: F) {
    this.names = Object.keys(fields) as (keyof F & string)[];
    this.format = `<${this.names.map((name) => CODES[fields[name] as FieldType]).join("")}`;
    const offset: Record<string, number> = {};
    let at = 0;
    for (const name of this.names) {
      offset[name] = at;
      at += FIXED_BYTES[fields[name] as FieldType] ?? Number.NaN;
    }
    this.offset = offset as { [K in keyof F]: number };
    this.fixedSize = at;
  }

  /** The Lua line that reads this record from `input` at `cursor` into locals named as the fields. */
  unpack(input: string, cursor = "pos"): string {
    return `local ${this.names.join(", ")}; ${this.names.join(", ")}, ${cursor} = struct.unpack('${this.format}', ${input}, ${cursor})`;
  }

  /** Bytes `values` take. */
  size(values: { readonly [K in keyof F]: Value<F[K]> }): number {
    let bytes = 0;
    for (const name of this.names) {
      const type = this.fields[name] as FieldType;
      const value = values[name] as string | Buffer | number;
      bytes += FIXED_BYTES[type] ?? (LENGTH_BYTES[type] as number) + byteLength(value as string | Buffer);
    }
    return bytes;
  }

  /** Writes `values` at `at` (room checked by `size`); returns the offset after them. */
  write(out: Buffer, at: number, values: { readonly [K in keyof F]: Value<F[K]> }): number {
    for (const name of this.names) {
      const type = this.fields[name] as FieldType;
      const value = values[name] as string | Buffer | number;
      at = writeField(out, at, type, value, name);
    }
    return at;
  }
}

export const record = <F extends Record<string, FieldType>>(fields: F) => new WireRecord(fields);

const byteLength = (value: string | Buffer) => (typeof value === "string" ? Buffer.byteLength(value) : value.length);

function writeField(out: Buffer, at: number, type: FieldType, value: string | Buffer | number, name: string): number {
  switch (type) {
    case "u8":
      out[at] = value as number;
      return at + 1;
    case "u16":
      return out.writeUInt16LE(value as number, at);
    case "f64":
      return out.writeDoubleLE(value as number, at);
    case "char":
      out.write(value as string, at, "latin1");
      return at + 1;
    default: {
      const lengthBytes = LENGTH_BYTES[type] as number;
      const bytes =
        typeof value === "string"
          ? out.write(value, at + lengthBytes, "utf8")
          : (value as Buffer).copy(out, at + lengthBytes);
      if (bytes >= 2 ** (8 * lengthBytes)) throw new RangeError(`redis store: ${name} is too long (${bytes} bytes)`);
      if (lengthBytes === 1) out[at] = bytes;
      else if (lengthBytes === 2) out.writeUInt16LE(bytes, at);
      else out.writeUInt32LE(bytes, at);
      return at + lengthBytes + bytes;
    }
  }
}

/** Packs records: sizes first, then one buffer (a script call is one allocation). */
export class RecordWriter {
  private readonly parts: { record: WireRecord<never>; values: unknown }[] = [];
  private bytes = 0;

  add<F extends Record<string, FieldType>>(rec: WireRecord<F>, values: { readonly [K in keyof F]: Value<F[K]> }): this {
    this.bytes += rec.size(values);
    this.parts.push({ record: rec as unknown as WireRecord<never>, values });
    return this;
  }

  /** Bytes written as they are (a record packed once and cached, e.g. a limit). */
  raw(bytes: Buffer): this {
    this.bytes += bytes.length;
    this.parts.push({ record: RAW, values: bytes });
    return this;
  }

  finish(): Buffer {
    const out = Buffer.allocUnsafe(this.bytes);
    let at = 0;
    for (const { record: rec, values } of this.parts) {
      if (rec === RAW) at += (values as Buffer).copy(out, at);
      else at = rec.write(out, at, values as never);
    }
    return out;
  }
}
const RAW = record({}) as unknown as WireRecord<never>;

/** Distinct keys of a call, in first-use order: records name a key by its 1-based index in KEYS. */
export class KeyList {
  readonly keys: string[] = [];
  private readonly indexes = new Map<string, number>();

  indexOf(key: string): number {
    let index = this.indexes.get(key);
    if (index === undefined) {
      index = this.keys.push(key);
      if (index > 65_535) throw new RangeError("redis store: more than 65,535 keys in one script call");
      this.indexes.set(key, index);
    }
    return index;
  }
}

// ---------------------------------------------------------------------------------------------
// The records. `now` NaN: the script decides at Redis TIME (read once per call).

/** First in every script's input. `pad`: ms added to every TTL (testing clock only, else 0). */
export const HEADER = record({ pad: "f64", now: "f64" });

/**
 * A limit's static part, packed once per limit (core keeps one Limit object per configured limit).
 * `algorithm`: f fixed-window, s sliding-window, l sliding-log, t token-bucket, q quota,
 * c concurrency; `monitor`: 1 for a limit in monitor mode.
 */
export const LIMIT = record({ algorithm: "char", limit: "f64", windowMs: "f64", capacity: "f64", monitor: "u8" });

/**
 * Follows LIMIT for quotas: the previous, current and next calendar periods around the client's
 * clock. Lua has no time zones: the script uses the period holding the store's time.
 */
export const PERIODS = record({
  previousStart: "f64",
  previousEnd: "f64",
  currentStart: "f64",
  currentEnd: "f64",
  nextStart: "f64",
  nextEnd: "f64",
});

/**
 * DECIDE: after HEADER, the call's distinct limits once each (LIMITS, then per limit LIMIT and for
 * quotas PERIODS), as KEYS holds its distinct keys; then per decision DECISION and `items` x
 * DECIDE_ITEM, which names its key and its limit by their 1-based index.
 */
export const LIMITS = record({ count: "u16" });
/**
 * A decision. `flags`: 1 charge,
 * 2 restore (an absent quota counter stops the decision: `missing`), 4 report (multi-slot undo).
 * Each decision carries its own `now` (a batch can span a testing clock's step; HEADER's is NaN).
 */
export const DECISION = record({ flags: "u8", items: "u16", now: "f64" });
/** `key`: the subject's hash (its lease ZSET for concurrency); `field`: the counter in it. */
export const DECIDE_ITEM = record({ key: "u16", limitIndex: "u16", cost: "f64", field: "str8", lease: "str16" });

/** DECIDE's reply, per decision. `status`: 1 charged, 2 missing (nothing charged), 0 not charged. */
export const DECISION_RESULT = record({ now: "f64", status: "u8" });
/** DECIDE's reply, per item: its outcome... */
export const OUTCOME = record({
  fits: "u8",
  crossed: "u8",
  used: "f64",
  remaining: "f64",
  resetMs: "f64",
  retryAfterMs: "f64",
});
/** ...and with `report`, its view without this charge and its raw state before and after it. */
export const REPORT = record({
  usedBefore: "f64",
  remainingBefore: "f64",
  resetMsBefore: "f64",
  stateBefore: "str32",
  stateWritten: "str32",
});

/**
 * ADJUST (settle): per item, ADJUST_ITEM, LIMIT, quotas: PERIODS. `delta` units to add (negative
 * refunds) to the charge made at store time `chargedAt`, in the period starting `chargedPeriod`
 * (quotas; 0 otherwise).
 */
export const ADJUST_ITEM = record({ key: "u16", field: "str8", delta: "f64", chargedAt: "f64", chargedPeriod: "f64" });

/**
 * UNDO (multi-slot decisions): per item, UNDO_ITEM, LIMIT, quotas: PERIODS. Puts back
 * `stateBefore` when the counter still holds `stateWritten`, else refunds `cost` with adjust.
 */
export const UNDO_ITEM = record({
  key: "u16",
  field: "str8",
  cost: "f64",
  lease: "str16",
  chargedAt: "f64",
  chargedPeriod: "f64",
  stateBefore: "str32",
  stateWritten: "str32",
});

/** SEED (quota restore from the ledger): per item, SEED_ITEM then PERIODS. */
export const SEED_ITEM = record({ key: "u16", field: "str8", periodStart: "f64", count: "f64" });

/** RELEASE: per item, the lease to free in the concurrency ZSET `key`. */
export const RELEASE_ITEM = record({ key: "u16", lease: "str16" });
