import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromiumBinary, missing, startCli } from "@tollgate/testkit";

const here = dirname(fileURLToPath(import.meta.url));
export const SCREENSHOTS = join(here, "..", "..", "..", "docs", "screenshots");

/** True (after a loud SKIPPED, or a throw under CI=true) when chromium is not installed. */
export const noChromium = () => missing(chromiumBinary, "chromium (/usr/bin/chromium)");

export { launchChromium } from "@tollgate/testkit";

export interface Served {
  url: string;
  adminToken: string;
  serviceToken: string;
  output: () => string;
  stop(): Promise<void>;
}

/** Runs the real `tollgate serve` (embedded default) in a fresh directory; reads its first-start tokens. */
export async function serve(env: Record<string, string> = {}): Promise<Served> {
  const running = await startCli({ env: { TOLLGATE_LOG_LEVEL: "warn", ...env }, startTimeoutMs: 90_000 });
  return {
    url: running.url,
    adminToken: running.adminToken as string,
    serviceToken: running.serviceToken as string,
    output: running.output,
    async stop() {
      await running.stop();
    },
  };
}

/** A JSON call with a bearer token. */
export async function call(served: Served, method: string, path: string, token: string, body?: unknown) {
  const res = await fetch(`${served.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}
