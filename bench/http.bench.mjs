// HTTP adapters: Express and Fastify hello-world with and without Tollgate's middleware (memory
// store), and with express-rate-limit / @fastify/rate-limit, in req/s from autocannon. Each server
// runs in its own child process so the load generator does not share its event loop.
// Run after `npx tsc -b`: `node bench/http.bench.mjs`.
import { spawn } from "node:child_process";
import { loadavg } from "node:os";
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
  // The parent asks for this process's CPU time before and after its measurement.
  process.on("message", () => process.send?.(process.cpuUsage()));
  process.stdout.write("ready\n");
}

/** The server process's CPU time so far (user + system), in microseconds. */
function cpuOf(child) {
  return new Promise((resolve) => {
    child.once("message", (usage) => resolve(usage.user + usage.system));
    child.send("cpu");
  });
}

function start(name, port) {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), "serve", name, String(port)], {
    stdio: ["ignore", "pipe", "inherit", "ipc"],
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
    const cpuBefore = await cpuOf(child);
    const result = await autocannon({ url, connections: CONNECTIONS, duration: DURATION });
    const cpu = (await cpuOf(child)) - cpuBefore;
    return {
      rps: Math.round(result.requests.average),
      // Server CPU per request: unlike req/s, other jobs on the machine do not move it.
      cpuPerRequest: cpu / Math.max(1, result.requests.total),
      p99: result.latency.p99,
      non2xx: result.non2xx,
    };
  } finally {
    child.kill();
  }
}

if (process.argv[2] === "serve") {
  await serve(process.argv[3], Number(process.argv[4]));
} else {
  const rounds = Object.fromEntries(Object.keys(variants).map((name) => [name, []]));
  let port = 41_000;
  for (let round = 1; round <= ROUNDS; round++) {
    for (const name of Object.keys(variants)) {
      const result = await measure(name, port++);
      console.error(`round ${round} ${name}: ${result.rps} req/s, ${result.cpuPerRequest.toFixed(1)} us CPU/request`);
      rounds[name].push(result);
    }
  }
  const median = (values) => [...values].sort((a, b) => a - b)[values.length >> 1];
  /**
   * A middleware's cost in one round: the server CPU time per request it adds to the bare
   * server's, measured in that same round; the median over rounds.
   */
  const cost = (name) => {
    const base = rounds[name.split(" + ")[0]];
    return median(rounds[name].map((r, i) => r.cpuPerRequest / base[i].cpuPerRequest - 1)) * 100;
  };
  const rows = Object.entries(rounds).map(([name, runs]) => {
    const r = runs.reduce((best, run) => (run.rps > best.rps ? run : best));
    return [
      name,
      String(median(runs.map((run) => run.rps))),
      `${median(runs.map((run) => run.cpuPerRequest)).toFixed(1)} us`,
      name.includes(" + ") ? `${cost(name).toFixed(1)} %` : "-",
      `${r.p99} ms`,
      String(runs.reduce((sum, run) => sum + run.non2xx, 0)),
    ];
  });
  const express = cost("express + tollgate");
  const expressPeer = cost("express + express-rate-limit");
  const fastify = cost("fastify + tollgate");
  const fastifyPeer = cost("fastify + @fastify/rate-limit");
  const verdict = (met) => (met ? "met" : "not met");
  const markdown = [
    "## HTTP adapters (hello world, req/s)",
    "",
    `autocannon, ${CONNECTIONS} connections, ${DURATION} s per row after a 1 s warm-up; server in a child process;`,
    `${ROUNDS} interleaved rounds (every server once per round). The cost of a middleware is the server CPU time per`,
    "request it adds to the bare server's (its process's user + system time over the run / requests answered),",
    "compared within each round, median over rounds (less sensitive than req/s to other processes on the machine,",
    "though not immune: a server answering fewer requests per event-loop turn spends more CPU on each). req/s and",
    "CPU per request are median rounds; p99 from the best round; non-2xx summed. Every round is printed on the console.",
    "Limits never deny (limit 1e9/min per IP): the figures are the cost of deciding. Memory store: the adapters",
    "call `checkSync` and the request goes on without a microtask.",
    `Machine: ${machine()}; load average at the end ${loadavg()[0].toFixed(2)}.`,
    "",
    table(["server", "req/s", "server CPU per request", "cost vs bare (CPU per request)", "p99", "non-2xx"], rows),
    "",
    `- Goal: Express middleware cost <= express-rate-limit's: ${express.toFixed(1)} % vs ${expressPeer.toFixed(1)} %, **${verdict(express <= expressPeer)}**.`,
    `- Goal: Fastify plugin cost <= @fastify/rate-limit's + 3 points: ${fastify.toFixed(1)} % vs ${fastifyPeer.toFixed(1)} % + 3, **${verdict(fastify <= fastifyPeer + 3)}**.`,
  ].join("\n");
  console.log(markdown);
  writeSection("http", markdown);
}
