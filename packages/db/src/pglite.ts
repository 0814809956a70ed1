import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { PGlite, PGliteOptions } from "@electric-sql/pglite";

/**
 * Postgres settings for the embedded catalog and ledger. PGlite's defaults are a server's
 * (shared_buffers 128 MB and friends); this database is small and single-user, and every buffer it
 * touches stays in the process for good (WebAssembly memory never shrinks). Measured on `npm start`
 * (docs/deployment.md): ~140 MB less resident memory, same queries.
 */
export const PGLITE_SETTINGS: Readonly<Record<string, string>> = Object.freeze({
  shared_buffers: "16MB",
  work_mem: "1MB",
  maintenance_work_mem: "8MB",
  temp_buffers: "1MB",
  wal_buffers: "1MB",
});

export async function pgliteOptions(): Promise<PGliteOptions> {
  const { PGlite } = await import("@electric-sql/pglite");
  const startParams = [...PGlite.defaultStartParams];
  for (const [name, value] of Object.entries(PGLITE_SETTINGS)) startParams.push("-c", `${name}=${value}`);
  return { startParams };
}

export async function createPGlite(dir: string): Promise<PGlite> {
  const { PGlite } = await import("@electric-sql/pglite");
  const pglite = new PGlite(dir, await pgliteOptions());
  await pglite.waitReady;
  return pglite;
}

const run = promisify(execFile);

/**
 * Creates a new data directory (initdb) in a short-lived child process. initdb grows PGlite's
 * WebAssembly memory to several hundred MB, which a process never gives back: done in the server's
 * own process, the first start would keep ~800 MB for its lifetime instead of what a restart uses.
 */
export async function initDataDirInChild(dir: string): Promise<void> {
  if (existsSync(join(dir, "PG_VERSION"))) return;
  const script = fileURLToPath(new URL("./pglite-initdb.js", import.meta.url));
  await run(process.execPath, [script, dir], { timeout: 300_000 });
}
