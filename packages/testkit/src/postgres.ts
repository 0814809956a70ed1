import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
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
  stop(): Promise<void>;
  /** Stops the server (fast shutdown), keeping its data for `start`. */
  halt(): Promise<void>;
  /** Starts a halted server again on the same port with the same data. */
  start(): Promise<void>;
  /** SIGSTOPs the postmaster and every backend: a frozen server (connections hang, nothing answers). */
  pause(): Promise<void>;
  /** SIGCONTs what `pause` froze. */
  resume(): Promise<void>;
}

/** The postmaster's pid and its children's (backends, background workers). */
function clusterPids(data: string): number[] {
  const postmaster = Number(readFileSync(join(data, "postmaster.pid"), "utf8").split("\n")[0]);
  const children = readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        // /proc/PID/stat: "pid (comm) state ppid ..."; comm may hold spaces, so read after ")".
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === postmaster;
      } catch {
        return false;
      }
    })
    .map(Number);
  return [postmaster, ...children];
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
  let paused: number[] = [];
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    async halt() {
      run(pgCtlBinary as string, ["-D", data, "-m", "fast", "-w", "stop"]);
    },
    async start() {
      start();
    },
    async pause() {
      paused = clusterPids(data);
      for (const pid of paused) process.kill(pid, "SIGSTOP");
    },
    async resume() {
      for (const pid of paused) process.kill(pid, "SIGCONT");
      paused = [];
    },
    async stop() {
      for (const pid of paused) process.kill(pid, "SIGCONT");
      try {
        run(pgCtlBinary as string, ["-D", data, "-m", "fast", "-w", "stop"]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
