import { type Denial, describeDenial } from "@tollgate/browser";
import { ROUTES, type RouteName } from "./routes.js";
import type {
  AlertDelivery,
  ApiKey,
  Consumer,
  CreatedKey,
  DecisionStats,
  HistoryPoint,
  Limit,
  Plan,
  Problem,
  Session,
  SubjectUsage,
} from "./types.js";

/** A failed call: its status, the server's problem document, and what it means for a person. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem,
    readonly denial: Denial,
  ) {
    super(problem.detail ?? denial.message);
  }
  /** The route is not on this server (an older version), as opposed to a failure. */
  get unavailable() {
    return this.status === 404 || this.status === 501;
  }
}

type Listener = (error: ApiError) => void;
const listeners = new Set<Listener>();
/** Lets the app react to 401 (signed out) and 429 (amber panel) from any call. */
export function onApiError(listener: Listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function expand(path: string, params: Record<string, string>) {
  return path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(params[name] ?? ""));
}

async function call<T>(
  route: RouteName,
  options: {
    params?: Record<string, string>;
    query?: Record<string, string | number | undefined>;
    body?: unknown;
  } = {},
): Promise<T> {
  const { method, path } = ROUTES[route];
  const url = new URL(expand(path, options.params ?? {}), location.origin);
  for (const [name, value] of Object.entries(options.query ?? {})) {
    if (value !== undefined && value !== "") url.searchParams.set(name, String(value));
  }
  const headers: Record<string, string> = { accept: "application/json" };
  // The session cookie authenticates; this header proves the call comes from this page (CSRF).
  if (method !== "get") headers["x-tollgate-csrf"] = "1";
  if (options.body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(url, {
    method: method.toUpperCase(),
    headers,
    credentials: "same-origin",
    ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
  });
  if (response.ok) return (response.status === 204 ? undefined : await response.json()) as T;
  const denial = await describeDenial(response);
  let problem: Problem = { status: response.status };
  try {
    problem = { ...(await response.json()), status: response.status } as Problem;
  } catch {
    // Not JSON (a proxy's page): keep the status.
  }
  const error = new ApiError(response.status, problem, denial);
  for (const listener of listeners) listener(error);
  throw error;
}

const num = (value: unknown) => (typeof value === "number" && Number.isFinite(value) ? value : 0);
const str = (value: unknown) => (typeof value === "string" ? value : undefined);

/**
 * Reads a consumer out of a report row: the live-counter shape (`keyId`, `owner`, `limits`) or a
 * ledger shape (`subject`, `used`, `limit`), picking the fullest limit.
 */
export function toConsumer(row: Record<string, unknown>): Consumer {
  const limits = Array.isArray(row.limits) ? (row.limits as Record<string, unknown>[]) : [];
  const fullest = limits
    .filter((l) => num(l.limit) > 0)
    .sort((a, b) => num(b.used) / num(b.limit) - num(a.used) / num(a.limit))[0];
  const subject = str(row.subject) ?? (str(row.keyId) ? `key:${str(row.keyId)}` : "unknown");
  const owner = str(row.owner);
  const plan = str(row.plan);
  const limitName = str(fullest?.name) ?? str(row.limit);
  return {
    subject,
    label: owner ? `${subject} (${owner})` : subject,
    ...(plan ? { plan } : {}),
    ...(limitName ? { limit: limitName } : {}),
    used: fullest ? num(fullest.used) : num(row.used ?? row.quantity ?? row.total),
    // The ledger's near-limit rows carry `capacity`; its top rows carry no limit size.
    max: fullest ? num(fullest.limit) : num(row.capacity ?? row.max ?? (typeof row.limit === "number" ? row.limit : 0)),
  };
}

function rowsOf(body: Record<string, unknown>): Record<string, unknown>[] {
  const list = body.keys ?? body.subjects ?? body.items ?? body.rows ?? body.top;
  return Array.isArray(list) ? (list as Record<string, unknown>[]) : [];
}

export const api = {
  signIn: (token: string) => call<Session>("signIn", { body: { token } }),
  session: () => call<Session>("session"),
  signOut: () => call<void>("signOut"),
  stats: () => call<DecisionStats>("stats"),
  plans: async () => (await call<{ plans: Plan[] }>("plans")).plans,
  putPlan: (name: string, limits: Limit[]) => call<Plan>("putPlan", { params: { name }, body: { limits } }),
  categories: async () => (await call<{ categories: Plan[] }>("categories")).categories,
  putCategory: (name: string, limits: Limit[]) => call<Plan>("putCategory", { params: { name }, body: { limits } }),
  keys: async () => (await call<{ keys: ApiKey[] }>("keys")).keys,
  createKey: (body: { owner: string; plan: string; name?: string }) => call<CreatedKey>("createKey", { body }),
  revokeKey: (id: string) => call<ApiKey>("revokeKey", { params: { id } }),
  rotateKey: (id: string) => call<CreatedKey>("rotateKey", { params: { id } }),
  setOverrides: (id: string, limits: Limit[]) => call<ApiKey>("keyOverrides", { params: { id }, body: { limits } }),
  resetCounters: (subject: string, limit?: string) =>
    call<{ reset: true }>("resetCounters", { body: { subject, ...(limit ? { limit } : {}) } }),
  subjectUsage: (subject: string, plan?: string) => call<SubjectUsage>("subjectUsage", { query: { subject, plan } }),
  top: async () => rowsOf(await call<Record<string, unknown>>("top")).map(toConsumer),
  nearLimit: async (ratio = 0.8) =>
    rowsOf(await call<Record<string, unknown>>("nearLimit", { query: { ratio } })).map(toConsumer),
  /** Usage history at the server's default granularity (hourly or daily points). */
  history: async (subject: string) => {
    const body = await call<{ subject: string; points: HistoryPoint[] }>("history", { query: { subject } });
    return body.points ?? [];
  },
  /**
   * The alert delivery log. An older server answers its configured sinks instead (no `status`
   * per row): reported as `deliveries: undefined` with the sink names.
   */
  alerts: async (): Promise<{ deliveries?: AlertDelivery[]; sinks: string[] }> => {
    const body = await call<Record<string, unknown>>("alerts");
    const describe = (row: Record<string, unknown>) =>
      `${str(row.name) ?? "?"} (${str(row.type) ?? "?"}${str(row.target) ? `, ${str(row.target)}` : ""})`;
    const sinks = Array.isArray(body.sinks) ? (body.sinks as Record<string, unknown>[]).map(describe) : [];
    if (Array.isArray(body.deliveries)) return { deliveries: body.deliveries as AlertDelivery[], sinks };
    // An older server lists only its configured sinks, as `alerts`.
    const older = Array.isArray(body.alerts) ? (body.alerts as Record<string, unknown>[]) : [];
    return { sinks: older.map(describe) };
  },
};
