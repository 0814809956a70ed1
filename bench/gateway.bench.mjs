// LLM gateway overhead: the same OpenAI-compatible calls sent straight to a fake upstream and
// through `tollgate serve`'s gateway (memory store, and Redis when redis-server is installed), in
// the same run. Each call is authenticated with a Tollgate API key, reserves requests + tokens +
// money, goes upstream and is settled from the usage. JSON and streamed (SSE) chat completions.
// The upstream answers at once, so every millisecond a gateway row adds is the gateway's.
// Rounds are interleaved (direct, memory, Redis, direct, ...) so drift in machine load hits every
// row alike; each row reports its best round by req/s.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import { machine, table, writeSection } from "./section.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const CLI = join(root, "packages", "server", "dist", "cli.js");
const TESTKIT = join(root, "packages", "testkit", "dist", "index.js");
const ADMIN = "bench-admin-token-0123456789abcdef";
const DURATION = Number(process.env.BENCH_SECONDS ?? 5);
const WARMUP = Number(process.env.BENCH_WARMUP_SECONDS ?? 2);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const CONNECTIONS = 20;
const OUTPUT_TOKENS = 16;
const messages = [{ role: "user", content: "Summarise the last deploy in one line." }];
const BODIES = {
  json: JSON.stringify({ model: "gpt-4o-mini", messages, max_tokens: OUTPUT_TOKENS }),
  sse: JSON.stringify({ model: "gpt-4o-mini", messages, max_tokens: OUTPUT_TOKENS, stream: true }),
};

/** Starts a process and waits for its "listening on URL" line. */
function start(args, env = {}) {
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
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

// The fake upstream in its own process, uncompressed (autocannon does not ask for gzip; the
// gateway's own upstream calls then do the same work as the direct row's).
const FAKE = `
import(${JSON.stringify(TESTKIT)}).then(async ({ startFakeOpenAi }) => {
  const fake = await startFakeOpenAi({ gzip: false });
  console.log("listening on " + fake.url);
});
`;

// A bare relay in its own process: the proxy hop alone (node:http server, node:http keep-alive
// client, body passed through), no authentication, no limits. It separates what any proxy costs
// on this machine from what the gateway adds on top.
const RELAY = (upstreamUrl) => `
const http = require("node:http");
const agent = new http.Agent({ keepAlive: true, maxSockets: 1024 });
const upstream = new URL(${JSON.stringify(upstreamUrl)});
const server = http.createServer((req, res) => {
  const parts = [];
  req.on("data", (d) => parts.push(d));
  req.on("end", () => {
    const body = Buffer.concat(parts);
    const path = upstream.pathname + req.url.slice("/v1".length);
    const out = http.request({ agent, host: upstream.hostname, port: upstream.port, path, method: "POST",
      headers: { "content-type": "application/json", "content-length": body.length } }, (up) => {
      res.writeHead(up.statusCode, { "content-type": up.headers["content-type"] });
      up.pipe(res);
    });
    out.end(body);
  });
});
server.listen(0, "127.0.0.1", () => console.log("listening on http://127.0.0.1:" + server.address().port + "/v1"));
`;

async function gateway(upstreamUrl, extraEnv) {
  const dir = mkdtempSync(join(tmpdir(), "tollgate-gateway-bench-"));
  const file = join(dir, "tollgate.json");
  writeFileSync(
    file,
    JSON.stringify({
      plans: {
        bench: {
          limits: [
            { name: "calls-minute", per: "key", algorithm: "fixed-window", limit: 100_000_000, window: "1m" },
            { name: "tokens-month", per: "key", algorithm: "quota", period: "month", limit: 1e12, unit: "tokens" },
            { name: "spend-month", per: "key", algorithm: "quota", period: "month", limit: 1_000_000, unit: "usd" },
          ],
        },
      },
      categories: { llm_call: { limits: [] } },
      gateway: {
        upstreams: { openai: { baseUrl: upstreamUrl, apiKeyEnv: "BENCH_UPSTREAM_KEY" } },
        prices: { "gpt-4o-mini": { input: 0.15, output: 0.6 } },
      },
    }),
  );
  const server = await start([CLI, "serve", "--port", "0", "--config", file], {
    TOLLGATE_DATA_DIR: join(dir, "pglite"),
    TOLLGATE_ADMIN_TOKEN: ADMIN,
    TOLLGATE_LOG_LEVEL: "warn",
    TOLLGATE_LOG_REQUESTS: "false",
    BENCH_UPSTREAM_KEY: "sk-bench",
    ...extraEnv,
  });
  const created = await fetch(`${server.url}/v1/admin/keys`, {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
    body: JSON.stringify({ owner: "org:bench", plan: "bench", name: "bench" }),
  });
  const { secret } = await created.json();
  return {
    base: `${server.url}/gateway/openai/v1`,
    key: secret,
    stop() {
      server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function cannon(target, kind, duration, connectionRate) {
  return autocannon({
    url: `${target.base}/chat/completions`,
    method: "POST",
    connections: CONNECTIONS,
    duration,
    ...(connectionRate ? { connectionRate: Math.max(1, connectionRate) } : {}),
    headers: { authorization: `Bearer ${target.key}`, "content-type": "application/json" },
    body: BODIES[kind],
  });
}

/** One round: maximum rate, then p99 at half that rate (each connection paced evenly). */
async function round(target, kind) {
  const max = await cannon(target, kind, DURATION);
  const half = await cannon(target, kind, DURATION, max.requests.average / 2 / CONNECTIONS);
  return {
    rps: max.requests.average,
    p50: max.latency.p50,
    p99: max.latency.p99,
    halfP50: half.latency.p50,
    halfP99: half.latency.p99,
    errors: max.errors + max.non2xx + half.errors + half.non2xx,
  };
}

const upstream = await start(["--input-type=module", "-e", FAKE]);
const targets = [{ name: "direct to the upstream", target: { base: upstream.url, key: "sk-bench" } }];
const relay = await start(["-e", RELAY(upstream.url)]);
targets.push({ name: "bare relay (no Tollgate)", target: { base: relay.url, key: "sk-bench", stop: relay.stop } });
targets.push({ name: "gateway, memory store", target: await gateway(upstream.url, {}) });
const redisBinary = spawnSync("sh", ["-c", "command -v redis-server"], { encoding: "utf8" }).stdout.trim();
let redis;
if (redisBinary) {
  const { startRedis } = await import(TESTKIT);
  redis = await startRedis();
  targets.push({
    name: "gateway, Redis store",
    target: await gateway(upstream.url, { TOLLGATE_REDIS_URL: redis.url }),
  });
} else {
  console.warn("*** redis-server not installed: Redis rows skipped ***");
}

const results = [];
for (const kind of ["json", "sse"]) {
  for (const { target } of targets) await cannon(target, kind, WARMUP).catch(() => {});
  const rounds = targets.map(() => []);
  for (let r = 0; r < ROUNDS; r++) {
    for (const [i, { target }] of targets.entries()) rounds[i].push(await round(target, kind));
  }
  for (const [i, { name }] of targets.entries()) {
    const each = rounds[i].map(
      (r) => `${Math.round(r.rps)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms, half-rate p99 ${r.halfP99} ms`,
    );
    console.log(`${kind} ${name}: ${each.join(" | ")}`);
    results.push({
      kind,
      name,
      ...rounds[i].reduce((best, r) => (r.rps > best.rps ? r : best)),
      errors: rounds[i].reduce((sum, r) => sum + r.errors, 0),
    });
  }
}
for (const { target } of targets) target.stop?.();
upstream.stop();
await redis?.stop();

const rows = results.map((r) => {
  const direct = results.find((d) => d.kind === r.kind && d.name === targets[0].name);
  const added = (value, base) => (r === direct ? "" : ` (+${(value - base).toFixed(1)})`);
  return [
    r.kind === "json" ? "JSON" : "streamed (SSE)",
    r.name,
    Math.round(r.rps).toLocaleString("en-US"),
    `${r.p50} ms${added(r.p50, direct.p50)}`,
    `${r.p99} ms${added(r.p99, direct.p99)}`,
    `${r.halfP50} ms${added(r.halfP50, direct.halfP50)}`,
    `${r.halfP99} ms${added(r.halfP99, direct.halfP99)}`,
    String(r.errors),
  ];
});
const markdown = `## LLM gateway overhead

\`node bench/gateway.bench.mjs\` (or \`npm run bench -- gateway\`): autocannon, ${CONNECTIONS} keep-alive
connections, \`POST /chat/completions\` for ${OUTPUT_TOKENS} output tokens (\`gpt-4o-mini\`, a
one-line prompt), JSON and streamed, sent straight to a local fake OpenAI-compatible upstream
(\`@tollgate/testkit\`'s, in its own process, answering at once, uncompressed) and through the
gateway of the real CLI (\`tollgate serve\`, request logging off) in front of the same upstream,
and through a bare relay (a node:http server forwarding with a keep-alive node:http client, no
authentication or limits: what any proxy hop costs here).
Through the gateway every call is authenticated with a Tollgate API key, reserves requests,
tokens and money (three limits, one all-or-nothing decision), is forwarded with a keep-alive node:http client
and settled from the reported usage. ${WARMUP} s warm-up per row and kind, then ${ROUNDS}
interleaved rounds of ${DURATION} s at maximum rate plus ${DURATION} s at half that rate (each
connection paced evenly with autocannon's \`connectionRate\`); each row is its best round by
req/s; (+x) is what the gateway adds to the direct row. Target: under 1 ms added at p50 and under
5 ms at p99 at half the maximum rate. Machine: ${machine()}; the upstream, the gateway and
autocannon share these CPUs (and, when this was run, other work on the machine).

${table(["calls", "path", "max req/s", "p50", "p99", "p50 at half max", "p99 at half max", "errors"], rows)}
`;
console.log(markdown);
writeSection("gateway", markdown);
process.exit(0);
