// HTTP adapters: Express and Fastify hello-world with and without Tollgate's middleware (memory
// store), and with express-rate-limit / @fastify/rate-limit, in req/s from autocannon. Each server
// runs in its own child process so the load generator does not share its event loop.
// Run after `npx tsc -b`: `node bench/http.bench.mjs`.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { machine, table, writeSection } from "./section.mjs";

const DURATION = Number(process.env.BENCH_SECONDS ?? 4);
// Rounds are interleaved (every server once per round) and each row keeps its best round: a
// burst of load from another job then costs one round of one row, not a whole row.
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = 50;
const HUGE = 1_000_000_000; // never denies: we measure the cost of deciding, not of answering 429

async function tollgateLimiter() {
  const { createLimiter, memoryStore } = await import("@tollgate/core");
  return createLimiter({
    store: memoryStore(),
    limits: [{ name: "minute", per: "ip", algorithm: "fixed-window", limit: HUGE, window: "1m" }],
  });
}

const variants = {
  express: async () => {
    const { default: express } = await import("express");
    return express().get("/", (_req, res) => res.send("hello"));
  },
  "express + tollgate": async () => {
    const { default: express } = await import("express");
    const { rateLimit } = await import("@tollgate/http/express");
    return express().get("/", rateLimit(await tollgateLimiter()), (_req, res) => res.send("hello"));
  },
  "express + express-rate-limit": async () => {
    const { default: express } = await import("express");
    const { rateLimit } = await import("express-rate-limit");
    const limiter = rateLimit({ windowMs: 60_000, limit: HUGE, standardHeaders: "draft-8", legacyHeaders: false });
    return express().get("/", limiter, (_req, res) => res.send("hello"));
  },
  fastify: async () => {
    const { default: Fastify } = await import("fastify");
    return Fastify().get("/", async () => "hello");
  },
  "fastify + tollgate": async () => {
    const { default: Fastify } = await import("fastify");
    const { tollgate } = await import("@tollgate/http/fastify");
    const app = Fastify();
    await app.register(tollgate, { limiter: await tollgateLimiter(), global: true });
    return app.get("/", async () => "hello");
  },
  "fastify + @fastify/rate-limit": async () => {
    const { default: Fastify } = await import("fastify");
    const app = Fastify();
    await app.register((await import("@fastify/rate-limit")).default, { max: HUGE, timeWindow: 60_000 });
    return app.get("/", async () => "hello");
  },
};

async function serve(name, port) {
  const app = await variants[name]();
  if (typeof app.listen === "function" && app.server) await app.listen({ port, host: "127.0.0.1" });
  else await new Promise((resolve) => app.listen(port, "127.0.0.1", resolve));
  process.stdout.write("ready\n");
}

function start(name, port) {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), "serve", name, String(port)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolve, reject) => {
    child.stdout.on("data", (data) => String(data).includes("ready") && resolve(child));
    child.once("exit", (code) => reject(new Error(`${name} exited with ${code}`)));
  });
}

async function measure(name, port) {
  const { default: autocannon } = await import("autocannon");
  const child = await start(name, port);
  try {
    const url = `http://127.0.0.1:${port}/`;
    await autocannon({ url, connections: CONNECTIONS, duration: 1 }); // warm-up (JIT, caches)
    const result = await autocannon({ url, connections: CONNECTIONS, duration: DURATION });
    return { rps: Math.round(result.requests.average), p99: result.latency.p99, non2xx: result.non2xx };
  } finally {
    child.kill();
  }
}

if (process.argv[2] === "serve") {
  await serve(process.argv[3], Number(process.argv[4]));
} else {
  const results = {};
  let port = 41_000;
  for (let round = 1; round <= ROUNDS; round++) {
    for (const name of Object.keys(variants)) {
      const result = await measure(name, port++);
      console.error(`round ${round} ${name}: ${result.rps} req/s`);
      if (!results[name] || result.rps > results[name].rps) results[name] = result;
    }
  }
  const rows = Object.entries(results).map(([name, r]) => {
    const base = results[name.split(" + ")[0]].rps;
    const cost = name.includes(" + ") ? `${(((base - r.rps) / base) * 100).toFixed(1)} %` : "-";
    return [name, String(r.rps), cost, `${r.p99} ms`, String(r.non2xx)];
  });
  const markdown = [
    "## HTTP adapters (hello world, req/s)",
    "",
    `autocannon, ${CONNECTIONS} connections, ${DURATION} s per row after a 1 s warm-up; server in a child process;`,
    `best of ${ROUNDS} interleaved rounds (p99 and non-2xx from that round).`,
    "Limits never deny (limit 1e9/min per IP): the figures are the cost of deciding. Memory store.",
    `Machine: ${machine()}.`,
    "",
    table(["server", "req/s", "throughput cost vs bare", "p99", "non-2xx"], rows),
  ].join("\n");
  console.log(markdown);
  writeSection("http", markdown);
}
