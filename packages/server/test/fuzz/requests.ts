import { BAD_JSON_TEXTS, hostileValue, randomText } from "./hostile-values.js";
import type { Random } from "./random.js";

/** One generated request. `raw` requests go byte for byte over a socket (malformed HTTP). */
export interface FuzzRequest {
  /** What was done (`valid`, `body-field`, `auth`, ...), for the report. */
  kind: string;
  /** The route template the request was built from. */
  route: string;
  method: string;
  /** Path and query as sent. */
  path: string;
  headers: Record<string, string>;
  body?: string;
  raw?: string;
  /** A subject no accepted request may charge (see FuzzState.victims). */
  victim?: string;
  /** An admin write: a 2xx answer must have written exactly one audit entry. */
  audited: boolean;
  /** The route answers 501 until its feature lands (reported apart, never a crash). */
  unimplemented?: boolean;
  /** Learns from a 2xx answer (issued secrets, ids, decision ids). */
  learn?: (body: Json) => void;
}

// biome-ignore lint/suspicious/noExplicitAny: answers are untyped JSON
export type Json = any;

type Role = "admin" | "operator" | "readonly" | "service";

/** What the run has learnt: tokens and keys it may use, and every secret it has seen issued. */
export class FuzzState {
  readonly tokens: Record<Role, string[]> = { admin: [], operator: [], readonly: [], service: [] };
  readonly revokedTokens: string[] = [];
  readonly createdTokenIds: string[] = [];
  readonly createdTokens = new Map<string, { role: Role; token: string }>();
  readonly keys: { id: string; secret: string; active: boolean }[] = [];
  readonly decisionIds: string[] = [];
  /** Every secret issued during the run: none may appear in the logs. */
  readonly secrets = new Set<string>();
  /**
   * Each hostile decision request charges a user of its own (`victim-N`): if the request is
   * accepted the victim is marked touched; every other victim must show no usage at all.
   */
  readonly victims: string[] = [];
  readonly touched = new Set<string>();
  newVictim(): string {
    const victim = `victim-${this.victims.length}`;
    this.victims.push(victim);
    return victim;
  }
  keysCreated = 0;
  tokensCreated = 0;

  constructor(admin: string, service: string) {
    this.tokens.admin.push(admin);
    this.tokens.service.push(service);
    this.secrets.add(admin);
    this.secrets.add(service);
  }
  addToken(role: Role, token: string) {
    this.tokens[role].push(token);
    this.secrets.add(token);
  }
  anySecret(random: Random): string {
    const pool = [...this.keys.map((k) => k.secret), ...this.tokens.admin, ...this.tokens.service];
    return random.pick(pool);
  }
}

const CATEGORIES = ["llm_call", "collections", "evaluations", "ops_triage", "generate"];
const PLANS = ["free", "basic", "pro", "enterprise", "anonymous", "signed-in"];
const KEY_CAP = 150;
const TOKEN_CAP = 60;

interface RouteSpec {
  method: string;
  url: string;
  role: Role | "none";
  params?: (r: Random, s: FuzzState) => Record<string, string>;
  query?: (r: Random, s: FuzzState) => Partial<Record<string, string>>;
  headers?: (r: Random, s: FuzzState) => Partial<Record<string, string>>;
  body?: (r: Random, s: FuzzState, victim?: string) => Json;
  /** Decision routes: a hostile variant charges a victim, so an accepted one is noticed. */
  charges?: boolean;
  audited?: boolean;
  unimplemented?: boolean;
  /** Valid only while the run may still create (bounded catalog growth). */
  creates?: (s: FuzzState) => boolean;
  learn?: (s: FuzzState, body: Json, sent: Json, params: Record<string, string>) => void;
}

const user = (r: Random) => `fz-u-${r.int(50)}`;
const limitSpec = (r: Random, per = "user") => ({
  name: r.pick(["minute", "hour", "m2"]),
  per,
  algorithm: r.pick(["fixed-window", "sliding-window"]),
  limit: 1 + r.int(1000),
  window: r.pick(["1m", "1h", "30s"]),
});
const checkBody = (r: Random, s: FuzzState, victim?: string): Json => {
  if (!victim && s.keys.length > 0 && r.chance(0.3)) {
    const key = r.pick(s.keys);
    return { subject: { apiKey: key.secret }, ...(r.chance(0.5) ? { category: r.pick(CATEGORIES) } : {}) };
  }
  return {
    subject: { user: victim ?? user(r), ...(r.chance(0.3) ? { org: `fz-o-${r.int(10)}` } : {}) },
    category: r.pick(CATEGORIES),
    ...(r.chance(0.3) ? { cost: r.int(2000) } : {}),
    ...(r.chance(0.1) ? { plan: r.pick(PLANS) } : {}),
  };
};
const keyId = (r: Random, s: FuzzState, active = false) => {
  const pool = active ? s.keys.filter((k) => k.active) : s.keys;
  return pool.length > 0 ? r.pick(pool).id : `key_${"0".repeat(20)}`;
};

/** Every route the server serves (checked against /openapi.json at the start of a run). */
export const ROUTES: RouteSpec[] = [
  { method: "GET", url: "/", role: "none" },
  { method: "GET", url: "/healthz", role: "none" },
  { method: "GET", url: "/readyz", role: "none" },
  { method: "GET", url: "/metrics", role: "none" },
  { method: "GET", url: "/openapi.json", role: "none" },
  { method: "GET", url: "/docs", role: "none" },
  {
    method: "POST",
    url: "/v1/check",
    role: "service",
    charges: true,
    body: checkBody,
    learn: (s, body) => {
      if (typeof body.decisionId === "string" && body.decisionId.includes(".")) {
        s.decisionIds.push(body.decisionId);
        if (s.decisionIds.length > 200) s.decisionIds.shift();
      }
    },
  },
  {
    method: "POST",
    url: "/v1/check/batch",
    role: "service",
    charges: true,
    body: (r, s, victim) => ({ requests: Array.from({ length: 1 + r.int(4) }, () => checkBody(r, s, victim)) }),
  },
  {
    method: "POST",
    url: "/v1/settle",
    role: "service",
    body: (r, s) => ({
      decisionId: s.decisionIds.length > 0 && r.chance(0.8) ? r.pick(s.decisionIds) : "d_bm90LWEtcmVhbC1pZA.sig",
      cost: r.int(5000),
    }),
  },
  {
    method: "GET",
    url: "/v1/usage",
    role: "service",
    query: (r) => ({ user: user(r), category: r.pick(CATEGORIES) }),
    headers: (r, s) => (s.keys.length > 0 && r.chance(0.5) ? { "x-api-key": r.pick(s.keys).secret } : {}),
  },
  { method: "GET", url: "/v1/admin/plans", role: "readonly" },
  {
    method: "PUT",
    url: "/v1/admin/plans/:name",
    role: "admin",
    audited: true,
    params: (r) => ({ name: `fz-p${r.int(5)}` }),
    body: (r) => ({ limits: [limitSpec(r)] }),
  },
  { method: "GET", url: "/v1/admin/categories", role: "readonly" },
  {
    method: "PUT",
    url: "/v1/admin/categories/:name",
    role: "admin",
    audited: true,
    params: (r) => ({ name: `fz-c${r.int(5)}` }),
    body: (r) => ({ limits: r.chance(0.5) ? [] : [limitSpec(r)], ...(r.chance(0.3) ? { requiredScope: "fz" } : {}) }),
  },
  {
    method: "GET",
    url: "/v1/admin/keys",
    role: "readonly",
    query: (r) => (r.chance(0.5) ? { plan: r.pick(PLANS) } : {}),
  },
  { method: "GET", url: "/v1/admin/keys/:id", role: "readonly", params: (r, s) => ({ id: keyId(r, s) }) },
  {
    method: "POST",
    url: "/v1/admin/keys",
    role: "operator",
    audited: true,
    creates: (s) => s.keysCreated < KEY_CAP,
    body: (r) => ({
      owner: `org:fz-o-${r.int(10)}`,
      plan: r.pick(PLANS),
      ...(r.chance(0.5) ? { name: `fz key ${r.int(100)}` } : {}),
      ...(r.chance(0.3) ? { scopes: ["llm", "fz"] } : {}),
    }),
    learn: (s, body) => {
      s.keysCreated++;
      s.keys.push({ id: body.id, secret: body.secret, active: true });
      s.secrets.add(body.secret);
    },
  },
  {
    method: "DELETE",
    url: "/v1/admin/keys/:id",
    role: "operator",
    audited: true,
    params: (r, s) => ({ id: keyId(r, s, true) }),
    learn: (s, body) => {
      const key = s.keys.find((k) => k.id === body.id);
      if (key) key.active = false;
    },
  },
  {
    method: "POST",
    url: "/v1/admin/keys/:id/rotate",
    role: "operator",
    audited: true,
    params: (r, s) => ({ id: keyId(r, s, true) }),
    learn: (s, body) => {
      const key = s.keys.find((k) => k.id === body.id);
      if (key) key.secret = body.secret;
      s.secrets.add(body.secret);
    },
  },
  {
    method: "PUT",
    url: "/v1/admin/keys/:id/overrides",
    role: "operator",
    audited: true,
    params: (r, s) => ({ id: keyId(r, s, true) }),
    body: (r) => ({ limits: r.chance(0.5) ? [] : [limitSpec(r, "key")] }),
  },
  { method: "GET", url: "/v1/admin/tokens", role: "admin" },
  {
    method: "POST",
    url: "/v1/admin/tokens",
    role: "admin",
    audited: true,
    creates: (s) => s.tokensCreated < TOKEN_CAP,
    body: (r) => ({ name: `fz-t-${r.int(1000)}`, role: r.pick(["admin", "operator", "readonly", "service"]) }),
    learn: (s, body) => {
      s.tokensCreated++;
      s.addToken(body.role, body.token);
      s.createdTokenIds.push(body.id);
      s.createdTokens.set(body.id, { role: body.role, token: body.token });
    },
  },
  {
    method: "DELETE",
    url: "/v1/admin/tokens/:id",
    role: "admin",
    audited: true,
    params: (r, s) => ({ id: s.createdTokenIds.length > 0 ? r.pick(s.createdTokenIds) : "tok_none" }),
    learn: (s, _body, _sent, params) => {
      const revoked = s.createdTokens.get(params.id as string);
      if (!revoked) return;
      const pool = s.tokens[revoked.role];
      const at = pool.indexOf(revoked.token);
      if (at !== -1) pool.splice(at, 1);
      s.revokedTokens.push(revoked.token);
    },
  },
  {
    method: "POST",
    url: "/v1/admin/counters/reset",
    role: "operator",
    audited: true,
    body: (r) => ({ subject: `user:${user(r)}`, ...(r.chance(0.3) ? { limit: "llm-hour" } : {}) }),
  },
  { method: "GET", url: "/v1/admin/usage/top", role: "readonly", query: () => ({ period: "month", limit: "5" }) },
  { method: "GET", url: "/v1/admin/usage/near-limit", role: "readonly", query: () => ({ ratio: "0.8" }) },
  {
    method: "GET",
    url: "/v1/admin/usage/subject",
    role: "readonly",
    query: (r, s) => ({ subject: r.chance(0.5) ? `user:${user(r)}` : `key:${keyId(r, s)}` }),
  },
  {
    method: "GET",
    url: "/v1/admin/usage/history",
    role: "readonly",
    query: (r) => ({ subject: `user:${user(r)}` }),
  },
  { method: "GET", url: "/v1/admin/usage/summary", role: "readonly", query: () => ({ period: "2026-03" }) },
  {
    method: "GET",
    url: "/v1/admin/usage/export",
    role: "readonly",
    query: (r) => ({ period: "2026-03", format: r.pick(["csv", "json", "cloudevents"]) }),
  },
  { method: "GET", url: "/v1/admin/alerts", role: "readonly" },
  { method: "GET", url: "/v1/admin/whoami", role: "readonly" },
  { method: "GET", url: "/v1/admin/stats/decisions", role: "readonly" },
  // Dashboard sign-in: a real token (any role) or garbage; failed sign-ins are throttled (429).
  {
    method: "POST",
    url: "/v1/session",
    role: "none",
    headers: () => ({ "x-tollgate-csrf": "1" }),
    body: (r, s) => ({
      token: r.chance(0.5) ? r.pick([...s.tokens.readonly, ...s.tokens.admin]) : `tg_adm_${r.int(1e9)}`,
    }),
  },
  { method: "GET", url: "/v1/session", role: "none" },
  { method: "DELETE", url: "/v1/session", role: "none", headers: () => ({ "x-tollgate-csrf": "1" }) },
  { method: "GET", url: "/v1/admin/audit", role: "admin", query: (r) => (r.chance(0.5) ? { limit: "5" } : {}) },
];

const AUDITED = ROUTES.filter((r) => r.audited).map((r) => ({
  method: r.method,
  pattern: new RegExp(`^${r.url.replace(/:\w+/g, "[^/]+")}$`),
}));

/**
 * Whether a request, as sent, reaches an audited admin write: a mutation can turn one route's
 * request into another's (a GET /v1/admin/keys/:id with its method changed to DELETE revokes).
 */
export function isAuditedWrite(method: string, path: string): boolean {
  const bare = path.split(/[?#;]/)[0] as string;
  return AUDITED.some((route) => route.method === method && route.pattern.test(bare));
}

const METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "PROPFIND", "SEARCH", "LOCK"];
const RANK: Record<Role, number> = { admin: 3, operator: 2, readonly: 1, service: 0 };

/** A token good enough for the route (a lower role never, the admin sometimes). */
function tokenFor(random: Random, state: FuzzState, role: Role | "none"): string | undefined {
  if (role === "none") return undefined;
  if (role === "service") return random.pick(state.tokens.service);
  const able = (Object.keys(state.tokens) as Role[]).filter((r) => r !== "service" && RANK[r] >= RANK[role]);
  return random.pick(able.flatMap((r) => state.tokens[r]));
}

/** Percent-encodes the UTF-8 bytes of any string (lone surrogates too, where encodeURIComponent throws). */
function pct(text: string): string {
  let out = "";
  for (const byte of Buffer.from(text, "utf8")) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9_.~-]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

function encodeQuery(query: Partial<Record<string, string>>): string {
  const pairs = Object.entries(query).map(([k, v]) => `${pct(k)}=${pct(v ?? "")}`);
  return pairs.length > 0 ? `?${pairs.join("&")}` : "";
}

function fillPath(url: string, params: Record<string, string>, encode = true): string {
  return url.replace(/:(\w+)/g, (_, name: string) => (encode ? pct(params[name] ?? "x") : (params[name] ?? "x")));
}

/** Replaces (or deletes, or adds) one field somewhere in a JSON value. */
function mutateField(random: Random, value: Json): Json {
  if (value === null || typeof value !== "object") return hostileValue(random);
  const copy: Json = Array.isArray(value) ? [...value] : { ...value };
  const keys = Object.keys(copy);
  const action = random.int(6);
  if (keys.length === 0 || action === 0) {
    copy[random.pick(["extra", "__proto__", "constructor", "subject", "limits", "0", "\u0000", "é"])] =
      hostileValue(random);
    return copy;
  }
  const key = random.pick(keys);
  if (action === 1) {
    delete copy[key];
    return copy;
  }
  if (action <= 3 && copy[key] !== null && typeof copy[key] === "object") {
    copy[key] = mutateField(random, copy[key]);
    return copy;
  }
  copy[key] = hostileValue(random);
  return copy;
}

/**
 * The generator: each call picks a route, builds its valid request, and (most of the time)
 * breaks one thing about it. Seeded: the same seed and the same answers give the same run.
 */
export function nextRequest(random: Random, state: FuzzState): FuzzRequest {
  const spec = random.pick(ROUTES);
  const roll = random.int(100);
  const kind =
    roll < 25
      ? "valid"
      : roll < 33
        ? "method"
        : roll < 43
          ? "auth"
          : roll < 58
            ? "body-field"
            : roll < 65
              ? "body-json"
              : roll < 67
                ? "body-size"
                : roll < 72
                  ? "content-type"
                  : roll < 80
                    ? "path-param"
                    : roll < 84
                      ? "path-shape"
                      : roll < 93
                        ? "query"
                        : roll < 98
                          ? "raw-headers"
                          : "raw-garbage";
  const victim = spec.charges && kind !== "valid" ? state.newVictim() : undefined;
  const params = spec.params?.(random, state) ?? {};
  const query = spec.query?.(random, state) ?? {};
  let body: Json = spec.body?.(random, state, victim);
  let method = spec.method;
  let path = fillPath(spec.url, params) + encodeQuery(query);
  const headers = { ...(spec.headers?.(random, state) ?? {}) } as Record<string, string>;
  const token = tokenFor(random, state, spec.role);
  if (token) headers.authorization = `Bearer ${token}`;
  let text: string | undefined = body === undefined ? undefined : JSON.stringify(body);
  if (text !== undefined) headers["content-type"] = "application/json";
  let raw: string | undefined;
  let valid = kind === "valid";
  if (valid && spec.creates && !spec.creates(state)) {
    // The catalog stays bounded: past the cap, creations become a 400 (unknown plan / bad role).
    body = { ...body, plan: "fz-no-such-plan", role: "fz-no-such-role" };
    text = JSON.stringify(body);
    valid = false;
  }

  switch (kind) {
    case "method":
      method = random.pick(METHODS.filter((m) => m !== spec.method));
      if (method === "GET" || method === "HEAD") text = undefined;
      break;
    case "auth": {
      const variants = [
        () => delete headers.authorization,
        () => {
          headers.authorization = `Bearer tg_adm_${randomText(random, 0).padEnd(43, "A")}`;
        },
        () => {
          headers.authorization = `Basic ${Buffer.from("admin:admin").toString("base64")}`;
        },
        () => {
          headers.authorization = "Bearer";
        },
        () => {
          headers.authorization = `Bearer ${"t".repeat(600)}`;
        },
        () => {
          headers.authorization = `bearer   ${token ?? "x"}  `;
        },
        () => {
          headers.authorization = `Bearer ${token ?? "x"}, Bearer ${token ?? "x"}`;
        },
        () => {
          if (state.revokedTokens.length > 0) headers.authorization = `Bearer ${random.pick(state.revokedTokens)}`;
          else delete headers.authorization;
        },
        () => {
          // The wrong role: service on admin routes, readonly on writes and decisions.
          const wrong = spec.role === "service" ? state.tokens.readonly : state.tokens.service;
          headers.authorization = `Bearer ${wrong.length > 0 ? random.pick(wrong) : "nope"}`;
        },
      ];
      random.pick(variants)();
      break;
    }
    case "body-field":
      text = JSON.stringify(mutateField(random, body ?? {}));
      headers["content-type"] = "application/json";
      break;
    case "body-json":
      text = random.pick(BAD_JSON_TEXTS);
      headers["content-type"] = "application/json";
      break;
    case "body-size": {
      const size = random.pick([70_000, 1_048_576]);
      text = JSON.stringify({ ...(body ?? {}), pad: "p".repeat(size) });
      headers["content-type"] = "application/json";
      break;
    }
    case "content-type":
      headers["content-type"] = random.pick([
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/json; charset=latin1",
        "application/jsonx",
        "application/xml",
        "",
      ]);
      if (headers["content-type"] === "") delete headers["content-type"];
      text ??= "subject=x";
      break;
    case "path-param": {
      const hostile = random.pick([
        "k".repeat(257),
        "k".repeat(10_000),
        "%00",
        "a%00b",
        "%ff%fe",
        "%",
        "%E2%82",
        "..",
        "%2e%2e%2f%2e%2e",
        "a%2Fb",
        pct("😀\u202e"),
        pct(state.anySecret(random)),
        "",
        "__proto__",
        "constructor",
      ]);
      const url = spec.url.includes(":") ? spec.url : `${spec.url}/:extra`;
      path = fillPath(url, Object.fromEntries(Object.keys({ ...params, extra: "" }).map((k) => [k, hostile])), false);
      path += encodeQuery(query);
      break;
    }
    case "path-shape":
      path = random.pick([
        `${path.split("?")[0]}/`,
        `/${path}`,
        path.toUpperCase(),
        `${path.split("?")[0]}/extra/segment`,
        path.replace(/\/[^/]*$/, ""),
        `${path.split("?")[0]};jsessionid=1`,
        `${path.split("?")[0]}#fragment`,
        path.replace("/v1/", "/v2/"),
        path.replace(/\//g, "%2F"),
      ]);
      break;
    case "query": {
      const base = path.split("?")[0] as string;
      const extra = random.pick([
        () => `${encodeQuery(query)}${encodeQuery(query) ? "&" : "?"}unknown=1`,
        () => `?apiKey=${pct(state.anySecret(random))}&${encodeQuery(query).slice(1)}`,
        () => `?token=${pct(state.anySecret(random))}`,
        () => `${encodeQuery(query)}${encodeQuery(query) ? "&" : "?"}${encodeQuery(query).slice(1)}`,
        () => `?user=%00&category=%ff`,
        () => `?${"q".repeat(8000)}=1`,
        () => `?user[]=a&user[]=b`,
        () => `?limit=-1&ratio=2&period=${"x".repeat(100)}&before=abc`,
        () => `?subject=${pct(String(hostileValue(random)))}`,
        () => "?%=%&&=&",
      ])();
      path = base + extra;
      break;
    }
    case "raw-headers": {
      const lines = random.pick([
        () => [`X-Big: ${"y".repeat(20_000)}`],
        () => Array.from({ length: 300 }, (_, i) => `X-H${i}: ${i}`),
        () => ["X-Nul: a\u0000b"],
        () => ["Content-Length: 5", "Content-Length: 6"],
        () => ["Transfer-Encoding: chunked", "Content-Length: 3"],
        () => ["Bad Header: x"],
        () => [`X-Api-Key: ${state.anySecret(random)}\u0000`],
      ])();
      const head = Object.entries(headers).map(([k, v]) => `${k}: ${v}`);
      raw = `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${[...head, ...lines].join("\r\n")}\r\nConnection: close\r\n\r\n${text ?? ""}`;
      break;
    }
    case "raw-garbage":
      raw = random.pick([
        () => `${randomText(random, 30).replace(/\r|\n/g, "")}\r\n\r\n`,
        () => `GET ${path}\r\n\r\n`,
        () => `GET ${path} HTTP/1.1\r\n\r\n`,
        () => `GET ${path} HTTP/9.9\r\nHost: x\r\n\r\n`,
        () =>
          `POST ${path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nZZ\r\nxx\r\n0\r\n\r\n`,
        () => `GET /${"p".repeat(70_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
      ])();
      break;
  }

  const request: FuzzRequest = {
    kind: valid || kind !== "valid" ? kind : "valid-capped",
    route: `${spec.method} ${spec.url}`,
    method,
    path,
    headers,
    audited: isAuditedWrite(method, path),
  };
  if (text !== undefined && method !== "GET" && method !== "HEAD") request.body = text;
  if (raw !== undefined) request.raw = raw;
  if (victim) request.victim = victim;
  if (spec.unimplemented) request.unimplemented = true;
  if (spec.learn && method === spec.method) {
    const learn = spec.learn;
    request.learn = (answer) => learn(state, answer, body, params);
  }
  return request;
}
