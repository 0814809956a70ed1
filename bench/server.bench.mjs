// POST /v1/check throughput and latency of the Tollgate server (the real CLI, in its own
// process) against a bare Fastify endpoint returning a constant, in the same run: memory store,
// and the Redis store when redis-server is installed. Then p99 at half of each maximum rate.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import { machine, table, writeSection } from "./section.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const CLI = join(root, "packages", "server", "dist", "cli.js");
const SERVICE = "bench-service-token-0123456789abcdef";
const DURATION = Number(process.env.BENCH_SECONDS ?? 8);
const CONNECTIONS = 50;
const BODY = JSON.stringify({ subject: { user: "bench-user", org: "acme" }, category: "llm_call" });

/** A bare Fastify server answering a constant, in its own process like the real one. */
const BARE = `
const fastify = require(${JSON.stringify(createRequire(join(root, "packages/server/package.json")).resolve("fastify"))})();
fastify.post("/v1/check", async () => ({ allowed: true }));
fastify.listen({ port: 0, host: "127.0.0.1" }).then((a) => console.log("listening on " + a));
`;

function start(command, args, env = {}) {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`did not start:\n${output}`)), 60_000);
    const poll = setInterval(() => {
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (!match) return;
      clearInterval(poll);
      clearTimeout(timer);
      resolve({ url: match[1].replace("localhost", "127.0.0.1"), stop: () => child.kill("SIGTERM") });
    }, 50);
  });
}

function tollgate(extraEnv) {
  const dir = mkdtempSync(join(tmpdir(), "tollgate-bench-"));
  return start(process.execPath, [CLI, "serve", "--port", "0"], {
    TOLLGATE_DATA_DIR: join(dir, "pglite"),
    TOLLGATE_SERVICE_TOKEN: SERVICE,
    TOLLGATE_ADMIN_TOKEN: "bench-admin-token-0123456789abcdef",
    TOLLGATE_LOG_LEVEL: "warn",
    TOLLGATE_LOG_REQUESTS: "false",
    ...extraEnv,
  }).then((server) => ({
    ...server,
    stop() {
      server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  }));
}

function cannon(url, overallRate) {
  return autocannon({
    url: `${url}/v1/check`,
    method: "POST",
    connections: CONNECTIONS,
    duration: DURATION,
    headers: { authorization: `Bearer ${SERVICE}`, "content-type": "application/json" },
    body: BODY,
    ...(overallRate ? { overallRate } : {}),
  });
}

async function measure(name, server) {
  await cannon(server.url).catch(() => {}); // warm-up (JIT, connections)
  const max = await cannon(server.url);
  const half = await cannon(server.url, Math.max(1, Math.round(max.requests.average / 2)));
  const errors = max.errors + max.non2xx;
  return {
    name,
    rps: max.requests.average,
    p50: max.latency.p50,
    p99: max.latency.p99,
    halfP99: half.latency.p99,
    errors,
  };
}

const results = [];
const bare = await start(process.execPath, ["-e", BARE]);
results.push(await measure("bare Fastify (constant)", bare));
bare.stop();
const memory = await tollgate({});
results.push(await measure("Tollgate, memory store", memory));
memory.stop();

const redisBinary = spawnSync("sh", ["-c", "command -v redis-server"], { encoding: "utf8" }).stdout.trim();
if (redisBinary) {
  const { startRedis } = await import(join(root, "packages", "testkit", "dist", "index.js"));
  const redis = await startRedis();
  const server = await tollgate({ TOLLGATE_REDIS_URL: redis.url });
  results.push(await measure("Tollgate, Redis store", server));
  server.stop();
  await redis.stop();
} else {
  console.warn("*** redis-server not installed: Redis row skipped ***");
}

const base = results[0].rps;
const rows = results.map((r) => [
  r.name,
  Math.round(r.rps).toLocaleString("en-US"),
  `${Math.round((r.rps / base) * 100)} %`,
  `${r.p50} ms`,
  `${r.p99} ms`,
  `${r.halfP99} ms`,
  String(r.errors),
]);
const markdown = `## Server: POST /v1/check

\`node bench/server.bench.mjs\`: autocannon, ${CONNECTIONS} keep-alive connections, ${DURATION} s per run, on the
real CLI (\`tollgate serve\`, request logging off) vs a bare Fastify endpoint returning a constant,
both in their own process, same run. The check evaluates the \`llm_call\` category (one monitor
limit per org). Target: >= 60 % of the bare endpoint's req/s with the memory store; p99 under
5 ms at half of the maximum rate. Machine: ${machine()}; autocannon shares these CPUs.

${table(["server", "req/s", "vs bare", "p50", "p99", "p99 at half max rate", "errors"], rows)}
`;
console.log(markdown);
writeSection("server", markdown);
process.exit(0);
