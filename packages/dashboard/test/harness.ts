import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromiumBinary, missing } from "@tollgate/testkit";

const here = dirname(fileURLToPath(import.meta.url));
const CLI = join(here, "..", "..", "server", "dist", "cli.js");
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
  const cwd = mkdtempSync(join(tmpdir(), "tollgate-dashboard-"));
  const child: ChildProcess = spawn(process.execPath, [CLI, "serve", "--port", "0"], {
    cwd,
    env: { PATH: process.env.PATH ?? "", TOLLGATE_LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (d: Buffer) => {
    output += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    output += d.toString();
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line:\n${output}`)), 90_000);
    const poll = setInterval(() => {
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match && /TOLLGATE_SERVICE_TOKEN=\S+/.test(output)) {
        clearInterval(poll);
        clearTimeout(timer);
        resolve((match[1] as string).replace("localhost", "127.0.0.1"));
      }
    }, 50);
    child.once("exit", (code) => {
      clearInterval(poll);
      clearTimeout(timer);
      reject(new Error(`exited ${code}:\n${output}`));
    });
  });
  // The first start prints its tokens as `export TOLLGATE_<ROLE>_TOKEN=...` lines.
  const token = (role: string) => new RegExp(`TOLLGATE_${role.toUpperCase()}_TOKEN=(\\S+)`).exec(output)?.[1] as string;
  return {
    url,
    adminToken: token("admin"),
    serviceToken: token("service"),
    output: () => output,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
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
