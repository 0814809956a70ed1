import { createHash } from "node:crypto";
import type { Subject } from "@tollgate/core";
import { byokHeaderNames, providerKey } from "@tollgate/llm";
import type { GateOptions } from "./gate.js";
import { cachedIpSubject } from "./ip-cache.js";
import { andThen, type Maybe } from "./maybe.js";
import { clientAddress } from "./proxy.js";
import { resolve } from "./resolve.js";
import { warnOnce } from "./warn.js";

/** What the neutral core needs from a request, whatever the framework. Header names are lower-case. */
export interface RequestView {
  header(name: string): string | undefined;
  remoteAddress: string | undefined;
}

/** Facts the core found before calling your resolvers. */
export interface RequestFacts {
  /** Client address after proxy trust, IPv6 grouped by prefix; the `ip` subject. */
  ip: string | undefined;
}

/**
 * The subject a resolver returns: a core `Subject`, plus `apiKey`, a raw secret (the caller's API
 * key) to charge as the `key` subject. It is hashed (SHA-256) before it becomes a counter id or
 * appears in a decision, so the secret never reaches a store, a log or a response.
 */
export type SubjectInput = Subject & { apiKey?: string };

/** Prefixes of raw secrets (OpenAI, Stripe-style, Tollgate keys, a whole Authorization header). */
const SECRET_PATTERN = /^(?:sk-|sk_|rk_|tg_live_|tg_test_|bearer\s)/i;

/**
 * The `key` subject id of a raw API key: `sha256:` and 128 bits of its SHA-256, in hex. Use it to
 * reset or peek a key's counters (`limiter.reset({ key: apiKeySubjectId(raw) })`).
 */
export function apiKeySubjectId(raw: string): string {
  return `sha256:${createHash("sha256").update(raw).digest("hex").slice(0, 32)}`;
}

/** Who a request is, as the gate and the usage handler see it. */
export interface Identity {
  subject: Subject;
  ip: string | undefined;
  facts: RequestFacts;
  /** The caller's own provider key, if it sent one. */
  providerKey: string | undefined;
}

/** Decides whether a request goes on to be identified (the `authorize` step), with the facts found so far. */
type IdentityGate = (facts: RequestFacts) => Maybe<boolean>;

/**
 * {@link createIdentity} answering synchronously when the subject resolver and the gate do:
 * what the adapters use.
 */
export function identityOf<Req>(
  options: GateOptions<Req> = {},
): (req: Req, view: RequestView, gate?: IdentityGate) => Maybe<Identity | undefined> {
  const warn = warnOnce(options.logger);
  const trust = options.trustProxy ?? false;
  if (trust === true) {
    warn("TRUST_ALL", "trustProxy: true lets any client pick its own address; list your proxies instead.");
  }
  const addressOf = clientAddress(trust);
  const byokHeaders = byokHeaderNames(options.byok);
  const ipOf = cachedIpSubject(options.ipv6Subnet ?? 64);
  let forwardedWarned = false;

  /** Who the request is, once the subject resolver answered. */
  function identity(resolvedInput: SubjectInput | undefined, view: RequestView, facts: RequestFacts): Identity {
    let resolved = resolvedInput ?? {};
    if (resolved.apiKey !== undefined || (resolved.key !== undefined && SECRET_PATTERN.test(resolved.key))) {
      resolved = hashedKey(resolved, warn);
    }
    const { ip } = facts;
    const subject: Subject = ip !== undefined && resolved.ip === undefined ? { ...resolved, ip } : resolved;
    const key = byokHeaders.length > 0 ? providerKey(view.header, byokHeaders) : undefined;
    return { subject, ip, facts, providerKey: key };
  }

  function identify(req: Req, view: RequestView, facts: RequestFacts): Maybe<Identity> {
    return andThen(resolve(options.subject, req, facts), (resolved) => identity(resolved, view, facts));
  }

  return (req, view, gate) => {
    // Once warned, the two header look-ups per request would only feed a no-op.
    if (
      trust === false &&
      !forwardedWarned &&
      (view.header("x-forwarded-for") !== undefined || view.header("forwarded") !== undefined)
    ) {
      warn(
        "FORWARDED_WITHOUT_TRUST",
        "X-Forwarded-For/Forwarded seen but trustProxy is not set: every client behind the proxy shares one " +
          "IP limit. Set trustProxy to your proxies' addresses (the header is ignored until you do).",
      );
      forwardedWarned = true;
    }
    const address = addressOf(view);
    if (address === undefined) warn("NO_ADDRESS", "no client address available: per-IP limits do not apply.");
    const facts: RequestFacts = { ip: address === undefined ? undefined : ipOf(address) };
    // The authorization check runs before the subject resolver, which may assume a valid caller.
    if (gate === undefined) return identify(req, view, facts);
    return andThen(gate(facts), (passed) => (passed ? identify(req, view, facts) : undefined));
  };
}

/**
 * Resolves who a request is: client address (with proxy trust and IPv6 grouping), your subject
 * resolver, and the BYOK header. Warns once when the configuration looks wrong. An optional
 * `gate` runs before the subject resolver; when it refuses, the answer is undefined.
 *
 * @example
 * const identify = createIdentity({ subject: (req) => ({ user: req.userId }), trustProxy: ["10.0.0.0/8"] });
 * const { subject } = await identify(req, view);
 */
export function createIdentity<Req>(
  options: GateOptions<Req> = {},
): (req: Req, view: RequestView, gate?: (facts: RequestFacts) => Promise<boolean>) => Promise<Identity | undefined> {
  const identify = identityOf(options);
  return async (req, view, gate) => identify(req, view, gate);
}

/** The subject with its raw API key replaced by its hash, as the `key` subject. */
function hashedKey(input: SubjectInput, warn: (code: string, message: string) => void): Subject {
  const { apiKey, ...subject } = input;
  if (apiKey !== undefined) {
    // An empty or non-string key is left for the limiter to reject by name.
    if (typeof apiKey === "string" && apiKey.length > 0) subject.key = apiKeySubjectId(apiKey);
    else subject.key = apiKey as string;
    return subject;
  }
  warn(
    "RAW_SECRET_AS_KEY",
    "the subject's `key` looks like a raw API key: it was hashed before use. Return it as `apiKey` instead.",
  );
  subject.key = apiKeySubjectId(subject.key as string);
  return subject;
}
