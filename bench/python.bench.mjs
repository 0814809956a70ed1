// What the Python client (clients/python) adds to a decision: `Tollgate.check` / `AsyncTollgate.check`
// against a bare httpx POST to the same `tollgate serve`, in the same run, interleaved call by call.
// Starts the server (the built CLI, embedded default, a temp dir), runs
// clients/python/bench/check_bench.py on /usr/bin/python3, and writes the table into
// docs/benchmarks.md. Env: PY_BENCH_SECONDS (per mode, sync and async; default 10).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { machine, table, writeSection } from "./section.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const PYTHON = "/usr/bin/python3";
const seconds = process.env.PY_BENCH_SECONDS ?? "10";
const concurrency = "8";

if (!existsSync(PYTHON) || spawnSync(PYTHON, ["-c", "import httpx"]).status !== 0) {
  console.log(`\n*** SKIPPED: ${PYTHON} with httpx is not installed; the Python client bench did not run. ***\n`);
  process.exit(0);
}

const token = "bench-service-token-0123456789abcdef";
const cwd = mkdtempSync(join(tmpdir(), "tollgate-pybench-"));
const server = spawn(process.execPath, [join(root, "packages/server/dist/cli.js"), "serve", "--port", "0"], {
  cwd,
  env: { PATH: process.env.PATH ?? "", TOLLGATE_SERVICE_TOKEN: token, TOLLGATE_ADMIN_TOKEN: `${token}-admin` },
  stdio: ["ignore", "pipe", "pipe"],
});
let log = "";
server.stdout.on("data", (d) => {
  log += d;
});
server.stderr.on("data", (d) => {
  log += d;
});
const url = await new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error(`server did not start:\n${log}`)), 60_000);
  const poll = setInterval(() => {
    const match = /listening on (http:\/\/\S+)/.exec(log);
    if (match) {
      clearInterval(poll);
      clearTimeout(timer);
      resolve(match[1]);
    }
  }, 50);
});

const loadBefore = loadavg()[0].toFixed(2);
const args = ["--url", url, "--token", token, "--seconds", seconds, "--concurrency", concurrency];
const run = spawnSync(PYTHON, [join(root, "clients/python/bench/check_bench.py"), ...args], { encoding: "utf8" });
server.kill("SIGTERM");
rmSync(cwd, { recursive: true, force: true });
if (run.status !== 0) {
  console.error(run.stdout, run.stderr);
  process.exit(1);
}
const result = JSON.parse(run.stdout);
const loadAfter = loadavg()[0].toFixed(2);

const f0 = (n) => Math.round(n).toLocaleString("en-US");
const f2 = (n) => n.toFixed(2);
// [contender, mode, the bare call it is compared with]
const contenders = [
  ["bare httpx.Client, as installed", "sync, one caller", "bare httpx.Client, TCP_NODELAY"],
  ["bare httpx.Client, TCP_NODELAY", "sync, one caller"],
  ["Tollgate.check", "sync, one caller", "bare httpx.Client, TCP_NODELAY"],
  ["bare httpx.AsyncClient", `async, ${concurrency} in flight`],
  ["AsyncTollgate.check", `async, ${concurrency} in flight`, "bare httpx.AsyncClient"],
];
const percent = (value) => `${value >= 0 ? "+" : ""}${value.toFixed(1)} %`;
const rows = contenders.map(([name, mode, versus]) => {
  const r = result.results[name];
  const bare = versus ? result.results[versus] : undefined;
  const label = name.startsWith("bare") ? `${name} POST` : `\`${name}\``;
  return [
    label,
    mode,
    f0(r.rate),
    f2(r.p50),
    f2(r.p99),
    bare ? percent((bare.rate / r.rate - 1) * 100) : "-",
    bare ? percent((r.p50 / bare.p50 - 1) * 100) : "-",
  ];
});
const work = result.client_work_us;
const bareP50 = result.results["bare httpx.Client, TCP_NODELAY"].p50 * 1000;
const markdown = `## Python client (\`npm run bench -- python\`)

What \`clients/python\` adds to a decision: \`check\` against a bare \`httpx\` POST of the same body
(then \`.json()["allowed"]\`) to the same \`tollgate serve\` (embedded default, in-memory counters), in
the same run, interleaved call by call (sync: one caller alternating bare / client; async:
${concurrency} workers each alternating), so load from other processes hits both alike; ${seconds} s per
mode. Every call is a real decision (use case 2's \`llm_call\` monitor limit, 1,000 organisations);
keep-alive on both sides. Decisions/s = calls in flight / mean latency; percentiles over every call.
Python ${result.python}, httpx ${result.httpx} (Debian's packages). Machine: ${machine()}; load average
${loadBefore} before, ${loadAfter} after (the machine is shared, so compare rows, not runs).

${table(["contender", "mode", "decisions/s", "p50 ms", "p99 ms", "mean time added vs bare", "p50 added vs bare"], rows)}

The client's own work per decision, measured without the network (40 alternating batches of
2,000, fastest batch each): building the body and reading the answer into a \`Decision\` takes
**${f2(work.client)} µs** against ${f2(work.bare)} µs for a bare \`json.dumps\` / \`json.loads\`: **${f2(work.client - work.bare)} µs added
per decision**, ${f2(((work.client - work.bare) / bareP50) * 100)} % of the bare call's p50 in this run (${f2(bareP50 / 1000)} ms).

"Added" compares with the bare call on the same transport (sync: TCP_NODELAY; async: asyncio,
which sets it by default), by mean latency (which the machine's stalls dominate) and by median;
the target is under 10 %. The client's share is building
the body (dropping \`None\` subject fields), reading the answer into frozen dataclasses, and the
fail-open guard. The first row (measured alone, for reference) is a bare sync httpx call as Debian's httpx 0.23 /
httpcore 0.16 makes it: without TCP_NODELAY, Nagle's algorithm holds each POST's body behind its headers until the
server's delayed ACK (about 40 ms), which is why the client sets TCP_NODELAY itself.
`;
console.log(`\n${markdown}`);
writeSection("python", markdown);
