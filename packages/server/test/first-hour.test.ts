// A newcomer's first hour: install, start, stop, the `tollgate` command, docs that stand alone.
// Each test is named after the finding it guards.
import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import semver from "semver";
import { describe, expect, it } from "vitest";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const read = (path: string) => readFileSync(join(ROOT, path), "utf8");

/** Waits for the "listening on" line of a server started through npm, and returns its URL. */
function listening(child: ChildProcess, seen: { text: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line:\n${seen.text}`)), 90_000);
    const onData = (d: Buffer) => {
      seen.text += d;
      const match = /listening on (http:\/\/\S+)/.exec(seen.text);
      if (match) {
        clearTimeout(timer);
        resolve(match[1] as string);
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`exited ${code}:\n${seen.text}`));
    });
  });
}

const exited = (child: ChildProcess) =>
  new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );

async function refuses(url: string): Promise<boolean> {
  try {
    await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) });
    return false;
  } catch {
    return true;
  }
}

const env = { ...process.env, TOLLGATE_DATA_DIR: "memory://", TOLLGATE_LOG_LEVEL: "warn" };

describe("a newcomer's first hour", () => {
  it("EBADENGINE finding: every locked package's engines accept the Node version the README names", () => {
    const named = /Node (\d+\.\d+)\+/.exec(read("README.md"))?.[1];
    expect(named).toBeDefined();
    const node = `${named}.0`;
    expect(semver.satisfies(node, JSON.parse(read("package.json")).engines.node)).toBe(true);
    const lock = JSON.parse(read("package-lock.json")) as {
      packages: Record<string, { engines?: { node?: string } | string[]; optional?: boolean; os?: string[] }>;
    };
    const refusing = Object.entries(lock.packages)
      .filter(([, entry]) => {
        const range = Array.isArray(entry.engines) ? undefined : entry.engines?.node;
        return range !== undefined && !semver.satisfies(node, range);
      })
      .map(([path, entry]) => `${path} (${(entry.engines as { node: string }).node})`);
    expect(refusing).toEqual([]);
  });

  it("npm start finding: SIGTERM to npm stops the server (no orphan on its port) and npm exits", async () => {
    const npm = spawn("npm", ["start", "--", "--port", "0"], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    const seen = { text: "" };
    const done = exited(npm);
    const url = await listening(npm, seen);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    npm.kill("SIGTERM");
    const end = await done;
    // npm exits with the server's own status: 0 after a graceful drain.
    expect(end).toEqual({ code: 0, signal: null });
    // The server went down with npm: nothing listens on its port any more.
    expect(await refuses(url)).toBe(true);
  }, 180_000);

  it("npx finding: `npx tollgate serve` works after npm ci && npm run build (committed bin shim)", async () => {
    const link = join(ROOT, "node_modules", ".bin", "tollgate");
    expect(relative(ROOT, join(dirname(link), readlinkSync(link)))).toBe(
      join("node_modules", "@tollgate", "server", "bin", "tollgate.mjs"),
    );
    expect(statSync(join(ROOT, "packages", "server", "bin", "tollgate.mjs")).mode & 0o111).not.toBe(0);
    const npx = spawn("npx", ["--no-install", "tollgate", "serve", "--port", "0"], {
      cwd: ROOT,
      env,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    const done = exited(npx);
    const url = await listening(npx, { text: "" });
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    process.kill(-(npx.pid as number), "SIGTERM");
    await done;
    expect(await refuses(url)).toBe(true);
  }, 120_000);

  it("docs finding: docs, README and code comments stand alone (they cite no planning document kept outside the repository)", () => {
    const files: string[] = ["README.md"];
    const walk = (dir: string) => {
      for (const name of readdirSync(join(ROOT, dir))) {
        if (name === "node_modules" || name === "dist") continue;
        const path = join(dir, name);
        if (statSync(join(ROOT, path)).isDirectory()) walk(path);
        else if (/\.(md|ts|mjs)$/.test(name)) files.push(path);
      }
    };
    for (const dir of ["docs", "packages", "examples", "bench", "scripts"]) walk(dir);
    const citing = files.filter(
      (f) => !f.endsWith("first-hour.test.ts") && /\b(API|USE-CASES|DESIGN)\.md\b/.test(read(f)),
    );
    expect(citing).toEqual([]);
  });
});
