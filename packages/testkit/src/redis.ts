import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { findBinary, freePort } from "./binaries.js";

const run = promisify(execFile);

/** Paths of redis-server and redis-cli, or undefined when not installed (pass to `missing()`). */
export const redisServerBinary = findBinary("redis-server", ["/usr/sbin", "/usr/local/bin"]);
export const redisCliBinary = findBinary("redis-cli", ["/usr/sbin", "/usr/local/bin"]);

export interface RedisServer {
  url: string;
  port: number;
  /** Shuts the server down and removes its directory. */
  stop(): Promise<void>;
  /** SIGKILL, as a crash. */
  kill(): Promise<void>;
  /** Starts it again on the same port (after kill or stop). */
  restart(): Promise<void>;
}

export interface RedisCluster {
  /** Seed nodes, "127.0.0.1:port". */
  nodes: string[];
  stop(): Promise<void>;
  /** SIGKILLs one master (by its index in `nodes`), as a crash. */
  kill(index: number): Promise<void>;
  /** Starts a killed master again on its port with its cluster state; resolves once the cluster is ok. */
  restart(index: number): Promise<void>;
}

export interface RedisClusterOptions {
  /**
   * `cluster-require-full-coverage`: Redis's default (true) stops the whole cluster when one
   * master is down; false lets the surviving masters serve their own slots.
   */
  requireFullCoverage?: boolean;
}

const children = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of children) child.kill("SIGKILL");
});

function serverBinary(): string {
  if (redisServerBinary === undefined) throw new Error("redis-server is not installed");
  return redisServerBinary;
}

async function cli(port: number, ...args: string[]): Promise<string> {
  if (redisCliBinary === undefined) throw new Error("redis-cli is not installed");
  const { stdout } = await run(redisCliBinary, ["-h", "127.0.0.1", "-p", String(port), ...args], { timeout: 30_000 });
  return stdout;
}

async function waitFor(what: string, probe: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await probe()) return;
    } catch {}
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function spawnServer(port: number, dir: string, extra: string[]): ChildProcess {
  const child = spawn(
    serverBinary(),
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, ...extra],
    { stdio: "ignore" },
  );
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}

async function stopChild(child: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill(signal);
  await exited;
}

/**
 * Starts a throwaway redis-server on 127.0.0.1 and a free port (no persistence, temp dir).
 *
 * @example
 * if (missing(redisServerBinary, "redis-server")) return;
 * const redis = await startRedis();
 * const store = redisStore({ url: redis.url });
 */
export async function startRedis(): Promise<RedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "tollgate-redis-"));
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawnServer(port, dir, []);
    await waitFor(`redis-server on port ${port}`, async () => (await cli(port, "ping")).trim() === "PONG");
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async stop() {
      await stopChild(child, "SIGTERM");
      rmSync(dir, { recursive: true, force: true });
    },
    async kill() {
      await stopChild(child, "SIGKILL");
    },
    restart: start,
  };
}

/** A port whose cluster bus port (port + 10000) is free too. */
async function clusterPort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 25_000);
    const free = (p: number) =>
      new Promise<boolean>((resolve) => {
        const server = createServer();
        server.once("error", () => resolve(false));
        server.listen(p, "127.0.0.1", () => server.close(() => resolve(true)));
      });
    if ((await free(port)) && (await free(port + 10_000))) return port;
  }
}

/**
 * Starts a Redis Cluster of `masters` nodes (no replicas) on 127.0.0.1, and waits until every node
 * reports `cluster_state:ok`.
 *
 * @example
 * const cluster = await startRedisCluster(3);
 * const store = redisStore({ nodes: cluster.nodes });
 */
export async function startRedisCluster(masters = 3, options: RedisClusterOptions = {}): Promise<RedisCluster> {
  const dir = mkdtempSync(join(tmpdir(), "tollgate-cluster-"));
  const ports: number[] = [];
  const procs: ChildProcess[] = [];
  const spawnNode = (port: number) =>
    spawnServer(port, dir, [
      "--cluster-enabled",
      "yes",
      "--cluster-config-file",
      `nodes-${port}.conf`,
      "--cluster-node-timeout",
      "2000",
      "--cluster-require-full-coverage",
      options.requireFullCoverage === false ? "no" : "yes",
    ]);
  for (let i = 0; i < masters; i++) {
    const port = await clusterPort();
    ports.push(port);
    procs.push(spawnNode(port));
  }
  const stop = async () => {
    await Promise.all(procs.map((child) => stopChild(child, "SIGKILL")));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const port of ports) {
      await waitFor(`cluster node on port ${port}`, async () => (await cli(port, "ping")).trim() === "PONG");
    }
    await cli(
      ports[0] as number,
      "--cluster",
      "create",
      ...ports.map((port) => `127.0.0.1:${port}`),
      "--cluster-replicas",
      "0",
      "--cluster-yes",
    );
    for (const port of ports) {
      await waitFor(
        `cluster_state:ok on port ${port}`,
        async () => (await cli(port, "cluster", "info")).includes("cluster_state:ok"),
        30_000,
      );
    }
  } catch (error) {
    await stop();
    throw error;
  }
  const portOf = (index: number) => {
    const port = ports[index];
    if (port === undefined) throw new RangeError(`no cluster node ${index}`);
    return port;
  };
  return {
    nodes: ports.map((port) => `127.0.0.1:${port}`),
    stop,
    async kill(index) {
      portOf(index);
      await stopChild(procs[index], "SIGKILL");
    },
    async restart(index) {
      const port = portOf(index);
      procs[index] = spawnNode(port);
      await waitFor(`cluster node on port ${port}`, async () => (await cli(port, "ping")).trim() === "PONG");
      await waitFor(
        `cluster_state:ok on port ${port}`,
        async () => (await cli(port, "cluster", "info")).includes("cluster_state:ok"),
        30_000,
      );
    },
  };
}
