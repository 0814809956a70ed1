import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findBinary, freePort } from "./binaries.js";

const PG_BIN = "/usr/lib/postgresql/15/bin";

/** pg_ctl of the Debian PostgreSQL 15 package (or on PATH), or undefined when not installed. */
export const pgCtlBinary = findBinary("pg_ctl", [PG_BIN]);
export const initdbBinary = findBinary("initdb", [PG_BIN]);

export interface PostgresServer {
  /** `postgres://postgres@127.0.0.1:PORT/postgres` */
  url: string;
  port: number;
  /** Stops the server but keeps its data (an outage); `resume` starts it again on the same port. */
  pause(): Promise<void>;
  resume(): Promise<void>;
  stop(): Promise<void>;
}

/** initdb and postgres refuse to run as root: run them as the `postgres` user then. */
function run(binary: string, args: string[]) {
  const asRoot = process.getuid?.() === 0;
  const [cmd, argv] = asRoot ? ["runuser", ["-u", "postgres", "--", binary, ...args]] : [binary, args];
  const result = spawnSync(cmd, argv, { encoding: "utf8" });
  if (result.status !== 0) {
    throw new Error(`${binary} ${args.join(" ")} failed (${result.status}): ${result.stderr || result.stdout}`);
  }
}

/**
 * Starts a throwaway PostgreSQL server on a random port in a temp directory (trust auth,
 * listening on 127.0.0.1 only). Check `missing(pgCtlBinary, "PostgreSQL")` first.
 *
 * @example
 * if (missing(pgCtlBinary, "PostgreSQL (pg_ctl, initdb)")) return;
 * const pg = await startPostgres();
 * const db = await openDb({ url: pg.url });
 * await pg.stop();
 */
export async function startPostgres(): Promise<PostgresServer> {
  if (!pgCtlBinary || !initdbBinary) throw new Error("PostgreSQL binaries (initdb, pg_ctl) are not installed");
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "tollgate-pg-"));
  chmodSync(dir, 0o777);
  if (process.getuid?.() === 0) execFileSync("chown", ["postgres:postgres", dir]);
  const data = join(dir, "data");
  run(initdbBinary, ["-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"]);
  const start = () =>
    run(pgCtlBinary as string, [
      "-D",
      data,
      "-l",
      join(dir, "log"),
      "-w",
      "-t",
      "60",
      "-o",
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`,
      "start",
    ]);
  start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    async pause() {
      run(pgCtlBinary as string, ["-D", data, "-m", "fast", "-w", "stop"]);
    },
    async resume() {
      start();
    },
    async stop() {
      try {
        run(pgCtlBinary as string, ["-D", data, "-m", "fast", "-w", "stop"]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
