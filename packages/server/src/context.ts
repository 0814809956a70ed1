import type { Alerts } from "@tollgate/alerts";
import type { Clock, Limiter, Store } from "@tollgate/core";
import type { Db } from "@tollgate/db";
import type { AuthThrottle } from "./auth.js";
import type { Catalog } from "./catalog.js";
import type { ServerConfig } from "./config/schema.js";
import type { ServerLedger } from "./ledger.js";
import type { Metrics } from "./metrics.js";
import type { Sessions } from "./session.js";

/** Everything the routes share, built once at start by `createServer`. */
export interface ServerContext {
  config: ServerConfig;
  db: Db;
  store: Store;
  limiter: Limiter;
  /** Settle-once guard: a 1-per-window counter per decision nonce, in the shared store. */
  settleGuard: Limiter;
  catalog: Catalog;
  /** Alert events and their delivery (off the decision path). */
  alerts: Alerts;
  metrics: Metrics;
  /** The usage ledger: writer, restore source and reports. */
  ledger: ServerLedger;
  throttle: AuthThrottle;
  clock: Clock;
  /** First secret signs; all verify (rotation). */
  decisionSecrets: string[];
  /** Dashboard session cookies (signed, stateless). */
  sessions: Sessions;
}
