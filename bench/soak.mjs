// `npm run soak`: the server under steady load for a long time (not in CI; loopback only; bounded).
// The real CLI (memory counters, embedded PGlite) in its own process; first its maximum rate on
// POST /v1/check (closed loop, autocannon), then SOAK_MINUTES (default 10) at 80 % of that rate,
// paced evenly over keep-alive sockets, each request timed from when it was due. Reports, per
// minute, p50/p99 and the server's resident memory (from its own /metrics), and the verdict:
// RSS growth under 10 % from the first to the last minute, and p99 stable (last minute within
// 2x of the first). Writes its section into docs/benchmarks.md.
//
//   npm run soak                       # 10 minutes
//   SOAK_MINUTES=2 npm run soak        # shorter
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import { machine, table, writeSection } from "./section.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const CLI = join(root, "packages", "server", "dist", "cli.js");
const SERVICE = "soak-service-token-0123456789abcdef";
const MINUTES = Number(process.env.SOAK_MINUTES ?? 10);
const SHARE = 0.8;
const CONNECTIONS = 50;
const USERS = 1_000;
// A bounded population (1,000 users in 20 orgs): a leak shows as growth, not a bigger store.
const BODIES = Array.from({ length: USERS }, (_, i) =>
  JSON.stringify({ subject: { user: `user-${i}`, org: `org-${i % 20}` }, category: "llm_call" }),
);
let next = 0;
const nextBody = () => BODIES[next++ % BODIES.length];

async function startServer() {
  const dir = mkdtempSync(join(tmpdir(), "tollgate-soak-"));
  const child = spawn(process.execPath, [CLI, "serve", "--port", "0", "--host", "127.0.0.1"], {
    env: {
      PATH: process.env.PATH,
      TOLLGATE_DATA_DIR: join(dir, "pglite"),
      TOLLGATE_SERVICE_TOKEN: SERVICE,
      TOLLGATE_ADMIN_TOKEN: "soak-admin-token-0123456789abcdef",
      TOLLGATE_LOG_LEVEL: "warn",
      TOLLGATE_LOG_REQUESTS: "false",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`did not start:\n${output}`)), 120_000);
    const poll = setInterval(() => {
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (!match) return;
      clearInterval(poll);
      clearTimeout(timer);
      resolve(match[1].replace("localhost", "127.0.0.1"));
    }, 50);
  });
  return {
    url,
    stop: () =>
      new Promise((resolve) => {
        child.once("exit", () => {
          rmSync(dir, { recursive: true, force: true });
          resolve();
        });
        child.kill("SIGTERM");
      }),
  };
}

/** The server's resident memory, from its own Prometheus endpoint. */
async function rss(url) {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/^tollgate_process_resident_memory_bytes (\S+)$/m.exec(text)?.[1] ?? Number.NaN);
}

function maxRate(url, seconds) {
  return autocannon({
    url: `${url}/v1/check`,
    method: "POST",
    connections: CONNECTIONS,
    duration: seconds,
    headers: { authorization: `Bearer ${SERVICE}`, "content-type": "application/json" },
    requests: [{ setupRequest: (req) => ({ ...req, body: nextBody() }) }],
  });
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;

/** Open loop at `rate` for `seconds`, over raw keep-alive sockets; latencies bucketed per minute. */
async function paced(url, rate, seconds, onMinute) {
  const { hostname, port } = new URL(url);
  const head = (body) =>
    `POST /v1/check HTTP/1.1\r\nhost: ${hostname}:${port}\r\nauthorization: Bearer ${SERVICE}\r\n` +
    `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  const total = Math.round(rate * seconds);
  let bucket = [];
  let errors = 0;
  let finished = 0;
  let done;
  const allDone = new Promise((resolve) => (done = resolve));
  const sockets = await Promise.all(
    Array.from({ length: CONNECTIONS }, () => {
      const socket = connect({ host: hostname, port: Number(port), noDelay: true });
      const due = [];
      let buffer = Buffer.alloc(0);
      socket.on("data", (chunk) => {
        buffer = buffer.length ? Buffer.concat([buffer, chunk]) : chunk;
        for (;;) {
          const end = buffer.indexOf("\r\n\r\n");
          if (end < 0) return;
          const length = Number(/content-length: *(\d+)/i.exec(buffer.subarray(0, end).toString("latin1"))?.[1] ?? 0);
          if (buffer.length < end + 4 + length) return;
          if (buffer.subarray(9, 12).toString("latin1") !== "200") errors++;
          bucket.push(performance.now() - due.shift());
          buffer = buffer.subarray(end + 4 + length);
          if (++finished === total) done();
        }
      });
      socket.on("error", () => {
        errors += total - finished;
        done();
      });
      return new Promise((resolve) => socket.on("connect", () => resolve({ socket, due })));
    }),
  );
  const start = performance.now();
  let sent = 0;
  let minute = 0;
  const timer = setInterval(() => {
    const elapsed = performance.now() - start;
    const now = Math.min(total, Math.floor((elapsed * rate) / 1000));
    for (; sent < now; sent++) {
      const { socket, due } = sockets[sent % sockets.length];
      due.push(start + (sent * 1000) / rate);
      socket.write(head(nextBody()));
    }
    if (elapsed >= (minute + 1) * 60_000) {
      minute++;
      const latencies = bucket;
      bucket = [];
      onMinute(minute, latencies, errors);
    }
    if (sent >= total) clearInterval(timer);
  }, 1);
  await allDone;
  if (bucket.length > 0) onMinute(minute + 1, bucket, errors);
  for (const { socket } of sockets) socket.destroy();
  return { sent: total, errors };
}

const server = await startServer();
try {
  await maxRate(server.url, 5); // warm-up
  const max = await maxRate(server.url, 20);
  const rate = Math.round(max.requests.average * SHARE);
  process.stdout.write(`max ${Math.round(max.requests.average)} req/s; soaking ${MINUTES} min at ${rate} req/s\n`);
  const rows = [];
  const pending = [];
  const result = await paced(server.url, rate, MINUTES * 60, (minute, latencies, errors) => {
    latencies.sort((a, b) => a - b);
    pending.push(
      rss(server.url).then((bytes) => {
        const row = {
          minute,
          requests: latencies.length,
          p50: percentile(latencies, 0.5),
          p99: percentile(latencies, 0.99),
          rss: bytes,
          errors,
        };
        rows.push(row);
        process.stdout.write(
          `minute ${minute}: ${row.requests} answers, p50 ${row.p50.toFixed(2)} ms, p99 ${row.p99.toFixed(2)} ms, RSS ${(bytes / 2 ** 20).toFixed(1)} MiB, errors ${errors}\n`,
        );
      }),
    );
  });
  await Promise.all(pending);
  rows.sort((a, b) => a.minute - b.minute);
  const first = rows[0];
  const last = rows[rows.length - 1];
  const growth = (last.rss - first.rss) / first.rss;
  const p99Ratio = last.p99 / first.p99;
  const verdict = `RSS ${growth >= 0 ? "+" : ""}${(growth * 100).toFixed(1)} % from minute 1 to minute ${last.minute} (${growth < 0.1 ? "under" : "OVER"} the 10 % bound); p99 last/first ${p99Ratio.toFixed(2)}x (${p99Ratio <= 2 ? "stable" : "NOT stable"}); ${result.errors} non-200 answers of ${result.sent}.`;
  process.stdout.write(`${verdict}\n`);
  writeSection(
    "soak",
    `## Soak: the server for ${MINUTES} minutes at 80 % of its maximum rate

\`npm run soak\` (\`SOAK_MINUTES=${MINUTES}\`; not in CI, loopback only): the real CLI on memory counters
and embedded PGlite, request logging off. Maximum rate first (autocannon, ${CONNECTIONS} connections,
20 s after a 5 s warm-up): **${Math.round(max.requests.average)} req/s**; then POST /v1/check at
**${rate} req/s** (80 %) for ${MINUTES} minutes, paced evenly over ${CONNECTIONS} keep-alive sockets, each
request timed from when it was due (queueing counts), over a bounded population of ${USERS} users in 20
orgs. Resident memory is the server's own \`process_resident_memory_bytes\`, read once a minute. The
load generator shares the machine (${machine()}).

${table(
  ["minute", "answers", "p50 ms", "p99 ms", "server RSS MiB"],
  rows.map((r) => [r.minute, r.requests, r.p50.toFixed(2), r.p99.toFixed(2), (r.rss / 2 ** 20).toFixed(1)]),
)}

${verdict}`,
  );
} finally {
  await server.stop();
}
