// Use case 4: a generator that scrapes a URL and calls an LLM. Anonymous callers get 1 a day,
// signed-in users 3; a caller's own OpenAI key bypasses the quota (they pay); results are cached
// for an hour under the SHA-256 of the URL, and a cache hit costs no quota.
import {
  type CacheBackend,
  type Clock,
  createLimiter,
  type Limiter,
  memoryStore,
  noopLimiter,
  type Store,
} from "@tollgate/core";
import { memoryCache, resultCache } from "@tollgate/http";
import { rateLimit, usage } from "@tollgate/http/express";
import express, { type Express as Application, type Request } from "express";
import { servePage } from "./page.js";

declare global {
  namespace Express {
    interface Request {
      user?: { id: string; role: string };
    }
  }
}

/** Calls the model. `apiKey` is the caller's own key for this one request, or undefined for ours. */
export type Generate = (page: string, apiKey: string | undefined) => Promise<string>;
export type Scrape = (url: string) => Promise<string>;

export interface GeneratorAppOptions {
  clock?: Clock;
  /** `null`: no store configured, limits and cache become no-ops and the app keeps working. */
  store?: Store | null;
  cache?: CacheBackend | null;
  scrape?: Scrape;
  generate?: Generate;
}

const demoScrape: Scrape = async (url) => `<title>${url}</title>`;
const demoGenerate: Generate = async (page, apiKey) => `Summary of ${page} (${apiKey ? "your key" : "our key"})`;

function createDailyLimiter(store: Store, clock: Clock | undefined): Limiter {
  // byokExempt: a caller bringing its own provider key pays for the call, so the quota skips it.
  return createLimiter({
    store,
    ...(clock ? { clock } : {}),
    plans: {
      anonymous: {
        limits: [{ name: "day", per: "ip", algorithm: "quota", period: "day", limit: 1, byokExempt: true }],
      },
      "signed-in": {
        limits: [{ name: "day", per: "user", algorithm: "quota", period: "day", limit: 3, byokExempt: true }],
      },
    },
  });
}

/** Demo sign-in: `Authorization: Bearer session-<user>`. */
function signIn(req: Request, _res: unknown, next: () => void) {
  const token = req.header("authorization")?.match(/^Bearer session-([\w-]+)$/)?.[1];
  if (token) req.user = { id: token, role: "user" };
  next();
}

export function createApp(options: GeneratorAppOptions = {}): Application {
  const { clock } = options;
  const store = options.store === undefined ? memoryStore(clock ? { clock } : {}) : options.store;
  const limiter = store ? createDailyLimiter(store, clock) : noopLimiter();
  const backend = options.cache === undefined ? (store ? memoryCache(clock ? { clock } : {}) : null) : options.cache;
  const cache = resultCache({ backend, ttl: "1h", ...(clock ? { clock } : {}) });
  const scrape = options.scrape ?? demoScrape;
  const generate = options.generate ?? demoGenerate;
  const identity = {
    subject: (req: Request) => (req.user ? { user: req.user.id } : undefined),
    byok: { headers: ["x-openai-key"] },
  };
  const forceRefresh = (req: Request) => req.body?.force_refresh === true;
  const urlOf = (req: Request) => String(req.body?.url ?? "");

  const app = express();
  app.use(express.json(), signIn);
  app.get("/api/usage", usage(limiter, identity));
  app.post(
    "/api/generate",
    rateLimit(limiter, {
      ...identity,
      // A cached result costs the caller nothing.
      skip: async (req) => !forceRefresh(req) && (await cache.lookup(urlOf(req))) !== undefined,
    }),
    async (req, res) => {
      const url = urlOf(req);
      if (!URL.canParse(url)) {
        res.status(400).type("application/problem+json").send({ title: "url must be an absolute URL", status: 400 });
        return;
      }
      const apiKey = req.tollgate?.providerKey;
      const { value, cache_hit, cache_age_seconds } = await cache.get(
        url,
        async () => generate(await scrape(url), apiKey),
        { forceRefresh: forceRefresh(req) },
      );
      res.json({ result: value, cache_hit, cache_age_seconds });
    },
  );
  servePage(app);
  return app;
}
