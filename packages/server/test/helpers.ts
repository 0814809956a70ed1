import { Writable } from "node:stream";
import { type Clock, manualClock } from "@tollgate/core";
import type { Db } from "@tollgate/db";
import { createServer, loadConfig, type TollgateServer } from "@tollgate/server";

export const ADMIN = "test-admin-token-0123456789abcdef";
export const SERVICE = "test-service-token-0123456789abcdef";

/** Collects every log line a server writes, so tests can grep them. */
export class LogCapture extends Writable {
  text = "";
  override _write(chunk: Buffer, _enc: string, done: () => void) {
    this.text += chunk.toString();
    done();
  }
}

export interface TestServer extends TollgateServer {
  logs: LogCapture;
  clock: Clock;
  /** inject with a bearer token and JSON body */
  call(method: string, url: string, token?: string, body?: unknown, headers?: Record<string, string>): Promise<Reply>;
}

/** A parsed JSON response body, asserted field by field in tests. */
// biome-ignore lint/suspicious/noExplicitAny: test bodies are untyped JSON
export type Json = any;

export interface Reply {
  status: number;
  body: Json;
  headers: Record<string, unknown>;
  /** The body as sent, before JSON parsing. */
  raw: string;
}

/**
 * A server on an in-memory PGlite with fixed admin/service tokens and (by default) a manual
 * clock at 2026-03-10 12:00 UTC. `file` loads a config file instead of the built-in example.
 */
export async function startTestServer(
  options: {
    file?: string;
    env?: Record<string, string>;
    clock?: Clock;
    db?: Db;
    store?: import("@tollgate/core").Store;
  } = {},
): Promise<TestServer> {
  const clock = options.clock ?? manualClock(Date.UTC(2026, 2, 10, 12, 0, 0));
  const { config } = loadConfig({
    ...(options.file ? { file: options.file } : {}),
    env: {
      TOLLGATE_ADMIN_TOKEN: ADMIN,
      TOLLGATE_SERVICE_TOKEN: SERVICE,
      TOLLGATE_DATA_DIR: "memory://",
      TOLLGATE_LOG_LEVEL: "info",
      ...options.env,
    },
  });
  const logs = new LogCapture();
  const server = await createServer({
    config,
    clock,
    logDestination: logs,
    ...(options.db ? { db: options.db } : {}),
    ...(options.store ? { store: options.store } : {}),
  });
  return Object.assign(server, {
    logs,
    clock,
    async call(method: string, url: string, token?: string, body?: unknown, headers: Record<string, string> = {}) {
      const response = await server.app.inject({
        method: method as "GET",
        url,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(body !== undefined && typeof body !== "string" ? { "content-type": "application/json" } : {}),
          ...headers,
        },
        ...(body !== undefined ? { payload: typeof body === "string" ? body : JSON.stringify(body) } : {}),
      });
      let parsed: unknown = response.body;
      try {
        parsed = JSON.parse(response.body);
      } catch {}
      return { status: response.statusCode, body: parsed, headers: response.headers, raw: response.body };
    },
  });
}
