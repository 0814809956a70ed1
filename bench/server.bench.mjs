// POST /v1/check throughput and latency of the Tollgate server (the real CLI, in its own
// process) against a bare Fastify endpoint returning a constant, in the same run: memory store,
// and the Redis store when redis-server is installed. Then p99 at half of each maximum rate.
// Fairness: every server gets the same warm-up, the same request bodies and the same duration;
// rounds are interleaved (bare, memory, Redis, bare, ...) so drift in machine load hits every
// row alike, and each row reports its best round.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import { paced, percentile } from "./paced.mjs";
import { machine, table, writeSection } from "./section.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const CLI = join(root, "packages", "server", "dist", "cli.js");
const SERVICE = "bench-service-token-0123456789abcdef";
const DURATION = Number(process.env.BENCH_SECONDS ?? 8);
const WARMUP = Number(process.env.BENCH_WARMUP_SECONDS ?? 4);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = 50;
const USERS = 1_000;
const ORGS = 20;
// A realistic, bounded population: 1,000 users in 20 orgs, cycled in order, so counters are
// spread over many keys (one constant subject measured a single hot counter) and the store
// stays a fixed size however long the bench runs.
const BODIES = Array.from({ length: USERS }, (_, i) =>
  JSON.stringify({ subject: { user: `user-${i}`, org: `org-${i % ORGS}` }, category: "llm_call" }),
);
let next = 0;
const nextBody = () => BODIES[next++ % BODIES.length];
const HEADERS = { authorization: `Bearer ${SERVICE}`, "content-type": "application/json" };

/** A bare Fastify server answering a constant, in its own process like the real one. */
const BARE = `
const fastify = require(${JSON.stringify(createRequire(join(root, "packages/server/package.json")).resolve("fastify"))})();
fastify.post("/v1/check", async () => ({ allowed: true }));
fastify.listen({ port: 0, host: "127.0.0.1" }).then((a) => console.log("listening on " + a));
`;

/**
 * A process's CPU time so far (user + system), in seconds, from /proc (Linux); NaN elsewhere.
 * Server CPU per request does not move when other processes load the machine; req/s does.
 */
function cpuOf(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks of 10 ms
  } catch {
    return Number.NaN;
  }
}

function start(command, args, env = {}) {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`did not start:\n${output}`)), 180_000);
    const poll = setInterval(() => {
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (!match) return;
      clearInterval(poll);
      clearTimeout(timer);
      resolve({
        url: match[1].replace("localhost", "127.0.0.1"),
        cpu: () => cpuOf(child.pid),
        stop: () => child.kill("SIGTERM"),
      });
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

function cannon(url, duration) {
  return autocannon({
    url: `${url}/v1/check`,
    method: "POST",
    connections: CONNECTIONS,
    duration,
    headers: HEADERS,
    requests: [{ setupRequest: (req) => ({ ...req, body: nextBody() }) }],
  });
}

/** p99 at a steady `rate`, timed from when each request was due (bench/paced.mjs). */
async function steadyP99(url, rate, seconds) {
  let p99 = 0;
  const { errors } = await paced({
    url,
    headers: HEADERS,
    nextBody,
    rate,
    seconds,
    connections: CONNECTIONS,
    onInterval: ({ latencies }) => (p99 = percentile(latencies, 0.99)),
  });
  return { p99, errors };
}

/** One round on one server: maximum rate, then p99 at half that rate. */
async function round(server) {
  const cpuBefore = server.cpu();
  const max = await cannon(server.url, DURATION);
  const cpuPerRequest = ((server.cpu() - cpuBefore) * 1e6) / Math.max(1, max.requests.total);
  const half = await steadyP99(server.url, max.requests.average / 2, DURATION);
  return {
    rps: max.requests.average,
    cpuPerRequest,
    p50: max.latency.p50,
    p99: max.latency.p99,
    halfP99: half.p99,
    errors: max.errors + max.non2xx + half.errors,
  };
}

const servers = [{ name: "bare Fastify (constant)", server: await start(process.execPath, ["-e", BARE]) }];
servers.push({ name: "Tollgate, memory store", server: await tollgate({}) });
const redisBinary = spawnSync("sh", ["-c", "command -v redis-server"], { encoding: "utf8" }).stdout.trim();
let redis;
if (redisBinary) {
  const { startRedis } = await import(join(root, "packages", "testkit", "dist", "index.js"));
  redis = await startRedis();
  servers.push({ name: "Tollgate, Redis store", server: await tollgate({ TOLLGATE_REDIS_URL: redis.url }) });
} else {
  console.warn("*** redis-server not installed: Redis row skipped ***");
}

// The same warm-up for every server (JIT, connections, every subject's counters created).
for (const { server } of servers) await cannon(server.url, WARMUP).catch(() => {});
const rounds = servers.map(() => []);
for (let r = 0; r < ROUNDS; r++) {
  for (const [i, { server }] of servers.entries()) rounds[i].push(await round(server));
}
for (const { server } of servers) server.stop();
await redis?.stop();

// Every round on the console, so an outlier (another process on the machine) shows.
for (const [i, { name }] of servers.entries()) {
  const each = rounds[i].map(
    (r) =>
      `${Math.round(r.rps)} req/s, ${r.cpuPerRequest.toFixed(0)} us CPU/request, p99 ${r.p99} ms, half-rate p99 ${r.halfP99.toFixed(1)} ms`,
  );
  console.log(`${name}: ${each.join(" | ")}`);
}

// Best round by throughput; its latency figures come with it (no mixing across rounds).
const results = servers.map(({ name }, i) => ({
  name,
  ...rounds[i].reduce((best, r) => (r.rps > best.rps ? r : best)),
  errors: rounds[i].reduce((sum, r) => sum + r.errors, 0),
}));

const median = (values) => [...values].sort((a, b) => a - b)[values.length >> 1];
/**
 * Throughput as a share of the bare endpoint's, from server CPU per request (the bare endpoint's
 * over this server's, both measured in the same round), median over rounds: what each would
 * answer on the same CPU, which other jobs on the machine do not move. The Redis row counts the
 * Node process only (redis-server has its own CPU).
 */
const share = (i) => median(rounds[i].map((r, k) => rounds[0][k].cpuPerRequest / r.cpuPerRequest)) * 100;
const rows = results.map((r, i) => [
  r.name,
  Math.round(r.rps).toLocaleString("en-US"),
  `${median(rounds[i].map((x) => x.cpuPerRequest)).toFixed(0)} us`,
  `${Math.round(share(i))} %`,
  `${r.p50} ms`,
  `${r.p99} ms`,
  `${r.halfP99.toFixed(1)} ms`,
  String(r.errors),
]);
const GOALS = { "Tollgate, memory store": 80, "Tollgate, Redis store": 60 };
const goals = results
  .map((r, i) => [r.name, share(i), GOALS[r.name]])
  .filter(([, , goal]) => goal !== undefined)
  .map(
    ([name, value, goal]) =>
      `- Goal: ${name} >= ${goal} % of the bare endpoint: ${Math.round(value)} %, **${value >= goal ? "met" : "not met"}**.`,
  );
const markdown = `## Server: POST /v1/check

\`node bench/server.bench.mjs\`: autocannon, ${CONNECTIONS} keep-alive connections, on the real CLI
(\`tollgate serve\`, request logging off) vs a bare Fastify endpoint returning a constant, each in
its own process, same run. Every request is \`POST /v1/check\` with the service token and
\`{"subject":{"user":"user-<i>","org":"org-<i mod ${ORGS}>"},"category":"llm_call"}\`, cycling
through ${USERS.toLocaleString("en-US")} users in ${ORGS} orgs (the \`llm_call\` category: one monitor limit per org); the
bare endpoint gets the same bodies. Each server gets a ${WARMUP} s warm-up, then ${ROUNDS} interleaved rounds of
${DURATION} s at maximum rate plus ${DURATION} s at half that rate, paced evenly (requests released every
millisecond, latency timed from when each was due; autocannon's \`overallRate\` would send each
second's budget in one burst). req/s and latencies come from each row's best round. "vs bare" is
throughput on equal CPU: the bare endpoint's server CPU time per request over this server's (user +
system of the server process, from /proc), both measured in the same round, median over rounds; unlike
req/s it does not move when other jobs load the machine (the Redis row counts the Node process only).
Errors summed over all rounds. Machine: ${machine()};
load average at the end ${loadavg()[0].toFixed(2)}; autocannon shares these CPUs.

${table(["server", "req/s", "server CPU per request", "vs bare (equal CPU)", "p50", "p99", "p99 at half max rate", "errors"], rows)}

${goals.join("\n")}
`;
console.log(markdown);
writeSection("server", markdown);
process.exit(0);
