import { timingSafeEqual } from "node:crypto";
import type { ChargeReceipt, CompiledConfig, CompiledLimit, DecideItem } from "@tollgate/core";
import { hmac, randomSecret } from "./secrets.js";

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
}

export interface SettleTicket {
  nonce: string;
  issuedAt: number;
  receipt: ChargeReceipt;
}

export function encodeDecisionId(secret: string, receipt: ChargeReceipt | undefined, now: number): string {
  const payload: Payload = {
    n: randomSecret().slice(0, 16),
    a: receipt?.at ?? 0,
    c: receipt?.cost ?? 0,
    s: receipt?.store === "fallback" ? 1 : 0,
    i: (receipt?.items ?? []).filter((it) => it.limit.unit === "tokens").map((it) => [it.counter, it.id]),
    t: Math.round(now),
  };
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
  return {
    nonce: payload.n,
    issuedAt: payload.t,
    receipt: { items, at: payload.a, cost: payload.c, store: payload.s === 1 ? "fallback" : "primary" },
  };
}
