// Two figures of the failure path:
// 1. Over-admission during a Redis outage (OUTAGE_SECONDS, default 10): N_INSTANCES limiters
//    (as N server instances, each with its own Redis connection and its own local fallback) call
//    one subject with a limit of 100/h as fast as 16 callers each go, while Redis is down. The
//    fail modes run side by side against the same outage: plain `open` (unlimited), `local` with
//    share 1 (each instance enforces the whole limit) and share 1/N, and `closed`.
// 2. RSS of the embedded default (`npm start`: memory counters, PGlite catalog), idle after start,
//    first start (initdb) and warm restart, next to a bare Node process.
// Run: npm run bench -- resilience   (or: npx tsc -b && node --expose-gc bench/resilience.bench.mjs)
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createLimiter } from "@tollgate/core";
import { redisStore } from "@tollgate/redis";
import { startRedis } from "@tollgate/testkit";
import { machine, table, writeSection } from "./section.mjs";

const OUTAGE_SECONDS = Number(process.env.OUTAGE_SECONDS ?? 10);
const N_INSTANCES = 4;
const LIMIT = 100;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function outage() {
  const redis = await startRedis();
  const modes = [
    { label: "failMode open (plain)", failMode: "open", share: 1 },
    { label: "failMode local, share 1 (default)", failMode: "local", share: 1 },
    { label: `failMode local, share 1/${N_INSTANCES}`, failMode: "local", share: 1 / N_INSTANCES },
    { label: "failMode closed", failMode: "closed", share: 1 },
  ];
  const runs = modes.map((mode, m) => {
    const instances = Array.from({ length: N_INSTANCES }, () => {
      const store = redisStore({ url: redis.url, prefix: `bench-outage-${m}` });
      const limiter = createLimiter({
        store,
        fallbackShare: mode.share,
        limits: [
          { name: "hour", per: "user", algorithm: "fixed-window", limit: LIMIT, window: "1h", failMode: mode.failMode },
        ],
      });
      return { store, limiter };
    });
    return { mode, instances, admitted: 0, decisions: 0 };
  });
  for (const run of runs) for (const { store } of run.instances) await store.ping();
  await redis.kill();
  await sleep(300); // the breakers open: every decision now comes from the fail mode
  const deadline = performance.now() + OUTAGE_SECONDS * 1000;
  await Promise.all(
    runs.flatMap((run) =>
      run.instances.flatMap(({ limiter }) =>
        Array.from({ length: 16 }, async () => {
          while (performance.now() < deadline) {
            const decision = await limiter.check({ subject: { user: "outage" } });
            run.decisions++;
            if (decision.allowed) run.admitted++;
            await new Promise((resolve) => setImmediate(resolve));
          }
        }),
      ),
    ),
  );
  await redis.restart();
  for (const run of runs) for (const { store } of run.instances) await store.close();
  await redis.stop();
  return runs.map((run) => [
    run.mode.label,
    run.decisions.toLocaleString("en-US"),
    run.admitted.toLocaleString("en-US"),
    run.admitted > LIMIT ? `${(run.admitted / LIMIT).toFixed(1)} x` : "within",
  ]);
}

/** Starts the CLI on a data directory, waits for /healthz, idles, and reads its RSS. */
async function serverRss(dataDir) {
  const cli = fileURLToPath(new URL("../packages/server/dist/cli.js", import.meta.url));
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const child = spawn(process.execPath, [cli, "serve"], {
    env: { ...process.env, TOLLGATE_PORT: String(port), TOLLGATE_DATA_DIR: dataDir, TOLLGATE_LOG_LEVEL: "warn" },
    stdio: "ignore",
  });
  const started = performance.now();
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) break;
    } catch {}
    if (performance.now() - started > 60_000) throw new Error("server did not start");
    await sleep(100);
  }
  const ready = performance.now() - started;
  await sleep(3_000);
  const status = readFileSync(`/proc/${child.pid}/status`, "utf8");
  const kb = (field) => Number(status.match(new RegExp(`${field}:\\s+(\\d+)`))?.[1] ?? 0);
  child.kill("SIGTERM");
  await new Promise((resolve) => child.once("exit", resolve));
  return { rss: Math.round(kb("VmRSS") / 1024), peak: Math.round(kb("VmHWM") / 1024), ready: Math.round(ready) };
}

async function bareNodeRss() {
  const child = spawn(process.execPath, ["-e", "setTimeout(() => {}, 3000)"], { stdio: "ignore" });
  await sleep(1_000);
  const status = readFileSync(`/proc/${child.pid}/status`, "utf8");
  child.kill();
  return Math.round(Number(status.match(/VmRSS:\s+(\d+)/)?.[1] ?? 0) / 1024);
}

const outageRows = await outage();
console.log(table(["mode (4 instances, limit 100)", "decisions", "admitted", "over the limit"], outageRows));

const dir = mkdtempSync(join(tmpdir(), "tollgate-rss-"));
const first = await serverRss(join(dir, "pglite"));
const warm = await serverRss(join(dir, "pglite"));
rmSync(dir, { recursive: true, force: true });
const bare = await bareNodeRss();
const rssRows = [
  ["bare `node` (baseline)", `${bare} MB`, "", ""],
  ["`npm start`, first start (initdb)", `${first.rss} MB`, `${first.peak} MB`, `${first.ready} ms`],
  ["`npm start`, warm restart", `${warm.rss} MB`, `${warm.peak} MB`, `${warm.ready} ms`],
];
console.log(table(["process", "RSS idle", "peak RSS", "start to /healthz"], rssRows));

writeSection(
  "resilience",
  `## Failure path: over-admission during a Redis outage, and the embedded default's memory

Machine: ${machine()}. Command: \`npm run bench -- resilience\` (\`OUTAGE_SECONDS\`, default 10).

**Over-admission during a ${OUTAGE_SECONDS} s Redis outage.** ${N_INSTANCES} limiters (as ${N_INSTANCES} server
instances, each with its own connection and local fallback) decide for one subject with a limit of
${LIMIT}/h, 16 callers each, as fast as they go, while Redis is down (killed, breakers open). The
four fail modes run side by side against the same outage. Exact would be ${LIMIT} admitted.

${table(["mode (4 instances, limit 100)", "decisions", "admitted", "over the limit"], outageRows)}

\`local\` bounds an outage to share x limit per instance (here at most ${N_INSTANCES} x ${LIMIT} with share 1,
${LIMIT} with share 1/${N_INSTANCES}); plain \`open\` admits everything that arrives.

**RSS of the embedded default** (\`node packages/server/dist/cli.js serve\`, what \`npm start\` runs:
memory counters, PGlite catalog in a fresh data directory), 3 s idle after \`/healthz\` answers:

${table(["process", "RSS idle", "peak RSS", "start to /healthz"], rssRows)}

Where it goes: PGlite is Postgres compiled to WebAssembly, running in the server's process, and
WebAssembly memory never shrinks. Two things keep it down: a new data directory is created
(\`initdb\`, which grew the memory to ~800 MB) in a short-lived child process that exits, and the
embedded database runs with a small single-user database's settings (\`shared_buffers\` 16 MB,
\`work_mem\` 1 MB, ...; PGlite's defaults are a server's 128 MB of buffers). What remains is about
40 MB of Node, ~125 MB of PGlite (its build requires an initial WebAssembly memory of 128 MB, which
Postgres touches at start: an \`initialMemory\` below it fails to instantiate) and the server's
JavaScript heap. With Postgres (\`TOLLGATE_DATABASE_URL\`) the server is ~100-180 MB.
`,
);
