// Use case 1: an "Ask AI" triage endpoint with a per-user budget, independent of any per-IP
// limiter in front of it. The same user id is charged whether the caller used a session or an
// API key, so ten operators behind one NAT each get their own budget.
import { type Clock, createLimiter, type Limiter, memoryStore, type Store } from "@tollgate/core";
import { rateLimit } from "@tollgate/http/express";
import express, { type Express as Application, type NextFunction, type Request, type Response } from "express";
import { servePage } from "./page.js";

declare global {
  namespace Express {
    interface Request {
      user?: { id: string; role: string };
    }
  }
}

/** Who may call the endpoint: readonly users and per-machine agent keys get 403. */
const ALLOWED_ROLES = new Set(["admin", "operator"]);

/** Demo credentials: alice has a session and an API key, both resolving to user "alice". */
const CREDENTIALS: Record<string, { id: string; role: string }> = {
  "session-alice": { id: "alice", role: "operator" },
  "key-alice": { id: "alice", role: "operator" },
  "session-root": { id: "root", role: "admin" },
  "session-bob": { id: "bob", role: "readonly" },
  "key-agent-7": { id: "agent-7", role: "agent" },
  // A session record with its user id lost (an identity bug upstream): the limiter must refuse it
  // (400 subject_missing), not wave it through unlimited.
  "session-anon": { id: "", role: "operator" },
};

function positive(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive whole number (got "${raw}")`);
  return value;
}

export interface TriageAppOptions {
  env?: NodeJS.ProcessEnv;
  clock?: Clock;
  store?: Store;
}

/**
 * The limiter: an exact rolling window per user (a sliding log: at most 20 in any 3600 s, the
 * Retry-After is when the oldest call leaves the window), unless LLM_RATE_LIMIT_REQUESTS / _WINDOW
 * say otherwise.
 */
export function triageLimiter(options: TriageAppOptions = {}): Limiter {
  const env = options.env ?? process.env;
  const limit = positive(env, "LLM_RATE_LIMIT_REQUESTS", 20);
  const windowSeconds = positive(env, "LLM_RATE_LIMIT_WINDOW", 3600);
  return createLimiter({
    store: options.store ?? memoryStore(options.clock ? { clock: options.clock } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
    // Availability over exact accounting: an unreachable store lets requests through.
    limits: [
      { name: "llm", per: "user", algorithm: "sliding-log", limit, window: windowSeconds * 1000, failMode: "open" },
    ],
  });
}

function authenticate(req: Request, res: Response, next: NextFunction) {
  const token = req.header("authorization")?.replace(/^Bearer\s+/i, "") ?? "";
  const user = CREDENTIALS[token];
  if (!user) {
    res.status(401).type("application/problem+json").send({ title: "Sign in first", status: 401 });
    return;
  }
  req.user = user;
  next();
}

export function createApp(options: TriageAppOptions = {}): Application {
  const limiter = triageLimiter(options);
  const app = express();
  app.use(express.json());
  app.post(
    "/api/ai/triage",
    authenticate,
    rateLimit(limiter, {
      // An empty id is no user at all: the limit then refuses the request (subject_missing).
      subject: (req) => ({ user: req.user?.id || undefined }),
      authorize: (req) => ALLOWED_ROLES.has(req.user?.role ?? ""),
    }),
    (req, res) => {
      // The LLM call would go here; the limiter has already charged this user.
      res.json({ summary: `Triage for incident ${String(req.body?.incident ?? "?")}: check the last deploy.` });
    },
  );
  servePage(app, { authenticate, canAsk: (user) => ALLOWED_ROLES.has(user.role) });
  return app;
}
