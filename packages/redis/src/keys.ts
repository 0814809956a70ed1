import { createHash } from "node:crypto";

/** Longest id written into a key as is (base64url); longer ones are hashed so keys stay bounded. */
const INLINE_LIMIT = 64;

/**
 * Encodes a subject id for a key. base64url has no `{`, `}` or `:`, so no id can move the hash tag
 * or forge another subject's key. Short well-formed ids stay readable-ish and exact; long ids, and
 * strings with lone surrogates (which UTF-8 would fold together), become `~` + SHA-256 of their
 * UTF-16 code units: `~` is not base64url, so the two forms never meet, and SHA-256 collisions
 * are impossible in practice.
 */
export function encodeId(id: string): string {
  if ((id as unknown as { isWellFormed(): boolean }).isWellFormed()) {
    const inline = Buffer.from(id, "utf8").toString("base64url");
    if (inline.length <= INLINE_LIMIT) return inline;
  }
  return `~${createHash("sha256").update(Buffer.from(id, "utf16le")).digest("base64url")}`;
}

const counterHashes = new Map<string, string>();

/**
 * A short, fixed-length name for a counter identity (origin, limit name, kind, algorithm, window):
 * 128 bits of SHA-256. Memoised: a process has few counters, and this runs on every decision.
 */
export function counterHash(counter: string): string {
  let hash = counterHashes.get(counter);
  if (hash === undefined) {
    hash = createHash("sha256").update(Buffer.from(counter, "utf16le")).digest("base64url").slice(0, 22);
    if (counterHashes.size > 10_000) counterHashes.clear();
    counterHashes.set(counter, hash);
  }
  return hash;
}

/**
 * `${prefix}:claim:{${hash}}`: a once-only claim (alerts). The claim name can carry subject ids,
 * so it is hashed: keys stay bounded and ids never appear in Redis key listings.
 */
export function claimKey(prefix: string, name: string): string {
  return `${prefix}:claim:{${createHash("sha256").update(name, "utf8").digest("base64url").slice(0, 22)}}`;
}

/** Rejects prefixes that would put a hash tag before ours. */
export function validatePrefix(prefix: string): string {
  if (prefix.length === 0 || /[{}]/.test(prefix)) {
    throw new TypeError(`redisStore: prefix must be non-empty without '{' or '}' (got ${JSON.stringify(prefix)})`);
  }
  return prefix;
}

/** The hash tag of a subject: every limit of one subject lands in one slot. */
export function subjectTag(kind: string, id: string): string {
  return `${kind}:${encodeId(id)}`;
}

/**
 * `${prefix}:{${kind}:${encodedId}}:${counterHash}`: a concurrency counter's ZSET, and the
 * identity of any counter (string-state counters are the field `counterHash` of `subjectKey`).
 */
export function counterKey(prefix: string, tag: string, counter: string): string {
  return `${prefix}:{${tag}}:${counterHash(counter)}`;
}

/** `${prefix}:{${kind}:${encodedId}}`: the hash holding a subject's string-state counters. */
export function subjectKey(prefix: string, tag: string): string {
  return `${prefix}:{${tag}}`;
}

/** A subject's hash tag, hash key and cluster slot. */
export interface Subject {
  tag: string;
  key: string;
  slot: number;
}

/**
 * Subjects already encoded (base64url or SHA-256, then the CRC16 of the slot): a busy subject
 * decides many times a second, and encoding it was a visible part of each decision. Bounded:
 * past `maxEntries` per kind the oldest entry goes.
 */
export class SubjectMemo {
  private readonly kinds = new Map<string, Map<string, Subject>>();

  constructor(
    private readonly prefix: string,
    private readonly maxEntries = 50_000,
  ) {}

  get(kind: string, id: string): Subject {
    let ids = this.kinds.get(kind);
    if (ids === undefined) {
      ids = new Map();
      this.kinds.set(kind, ids);
    }
    let subject = ids.get(id);
    if (subject === undefined) {
      const tag = subjectTag(kind, id);
      subject = { tag, key: subjectKey(this.prefix, tag), slot: slotOf(tag) };
      if (ids.size >= this.maxEntries) ids.delete(ids.keys().next().value as string);
      ids.set(id, subject);
    }
    return subject;
  }
}

// CRC16/XMODEM, the hash Redis Cluster uses for slots.
const CRC_TABLE = (() => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
    table[i] = crc & 0xffff;
  }
  return table;
})();

/**
 * The cluster slot of a hash tag's content (our tags are ASCII, so one byte per char).
 *
 * @example slotOf("user:dS00Mg") // 0..16383, the slot of every key `tg:{user:dS00Mg}:...`
 */
export function slotOf(tag: string): number {
  let crc = 0;
  for (let i = 0; i < tag.length; i++) {
    crc = ((crc << 8) & 0xffff) ^ (CRC_TABLE[((crc >> 8) ^ tag.charCodeAt(i)) & 0xff] as number);
  }
  return crc % 16384;
}
