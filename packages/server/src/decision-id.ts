import { randomBytes, timingSafeEqual } from "node:crypto";
import type { ChargeReceipt, CompiledConfig, CompiledLimit, DecideItem } from "@tollgate/core";
import { hmac } from "./secrets.js";

/**
 * Decision ids carry what settle needs, signed, so any server instance can settle a decision
 * without a shared receipt store: `d_<payload>.<hmac>`, payload = base64url JSON of the token
 * items charged (counter + subject id), the charge time, the estimated cost and a nonce
 * (settle-once is enforced with that nonce in the counter store).
 */
interface Payload {
  /** nonce */
  n: string;
  /** charge time (store clock, ms) */
  a: number;
  /** estimated cost */
  c: number;
  /** primary or fallback store */
  s: 0 | 1;
  /** [counter, subject id] of each token-unit item */
  i: [string, string][];
  /** issued at (server clock, ms) for expiry */
  t: number;
  /** plan and category of the decision, for the usage ledger (absent when none) */
  p?: string;
  g?: string;
}

export interface SettleTicket {
  nonce: string;
  issuedAt: number;
  receipt: ChargeReceipt;
  plan?: string;
  category?: string;
}

/** Unique without a syscall per decision: 64 random bits per process plus a counter. */
const processNonce = randomBytes(8).toString("hex");
let sequence = 0;
const nextNonce = () => `${processNonce}${(sequence++).toString(36)}`;

/**
 * A decision id. Only decisions that charged token limits can be settled, so only those carry a
 * signed payload; the others get a short unique id (settling it is a no-op), which keeps the hot
 * path free of HMACs and the response small.
 */
export function encodeDecisionId(
  secret: string,
  receipt: ChargeReceipt | undefined,
  now: number,
  scope: { plan?: string | undefined; category?: string | undefined } = {},
): string {
  const tokens = receipt?.items.some((it) => it.limit.unit === "tokens");
  if (!tokens) return `d_${nextNonce()}`;
  const payload: Payload = {
    n: nextNonce(),
    a: receipt?.at ?? 0,
    c: receipt?.cost ?? 0,
    s: receipt?.store === "fallback" ? 1 : 0,
    i: (receipt?.items ?? []).filter((it) => it.limit.unit === "tokens").map((it) => [it.counter, it.id]),
    t: Math.round(now),
  };
  if (scope.plan !== undefined) payload.p = scope.plan;
  if (scope.category !== undefined) payload.g = scope.category;
  const body = Buffer.from(JSON.stringify(payload)).toString("base64url");
  return `d_${body}.${hmac(secret, body)}`;
}

function findLimit(config: CompiledConfig, counter: string): CompiledLimit | undefined {
  for (const list of [config.global, ...config.plans.values(), ...config.categories.values()]) {
    for (const compiled of list) if (compiled.counter === counter) return compiled;
  }
  return undefined;
}

/**
 * Verifies a decision id and rebuilds the receipt against the limits in force. Returns a
 * message instead when the id is forged, malformed or too old. Limits removed since the
 * decision are skipped: their counters no longer matter.
 */
export function decodeDecisionId(
  secrets: readonly string[],
  id: string,
  config: CompiledConfig,
): SettleTicket | { error: string } {
  if (/^d_[0-9a-z]{16,40}$/.test(id)) {
    // An unsigned id: the decision charged no token limit, so there is nothing to settle.
    return { nonce: id, issuedAt: Number.POSITIVE_INFINITY, receipt: { items: [], at: 0, cost: 0, store: "primary" } };
  }
  const match = /^d_([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]{43})$/.exec(id);
  if (!match) return { error: "is not a decision id issued by this server" };
  const [, body = "", mac = ""] = match;
  const valid = secrets.some((secret) => {
    const expected = Buffer.from(hmac(secret, body));
    const given = Buffer.from(mac);
    return expected.length === given.length && timingSafeEqual(expected, given);
  });
  if (!valid) return { error: "has a bad signature (not issued by a server sharing this decision secret)" };
  let payload: Payload;
  try {
    payload = JSON.parse(Buffer.from(body, "base64url").toString("utf8")) as Payload;
  } catch {
    return { error: "is malformed" };
  }
  const items: DecideItem[] = [];
  for (const [counter, subjectId] of payload.i) {
    const compiled = findLimit(config, counter);
    if (compiled) items.push({ counter, id: subjectId, limit: compiled.limit, cost: payload.c });
  }
  const ticket: SettleTicket = {
    nonce: payload.n,
    issuedAt: payload.t,
    receipt: { items, at: payload.a, cost: payload.c, store: payload.s === 1 ? "fallback" : "primary" },
  };
  if (typeof payload.p === "string") ticket.plan = payload.p;
  if (typeof payload.g === "string") ticket.category = payload.g;
  return ticket;
}
