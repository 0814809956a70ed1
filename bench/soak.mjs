// `npm run soak`: the server under steady load for a long time (not in CI; loopback only; bounded).
//
// The real CLI (memory counters, embedded PGlite) in its own process. First its maximum rate on
// POST /v1/check: the median of three closed-loop autocannon runs after a warm-up (one run on a
// shared machine can catch a neighbour's burst or lull). Then SOAK_MINUTES (default 10) at 80 % of
// that rate from an open-loop client (bench/paced.mjs): requests released evenly whatever the
// answers do, each timed from when it was due, so a stall shows as latency instead of as less load.
// Per minute it reports the target and achieved rates (sent and answered), p50/p99 from due, p99
// from send (the server's own time), the backlog, and the server's resident memory from its own
// /metrics. Verdict: RSS growth under 10 % from the first minute to the last, p99 stable (last
// minute within 2x of the first), and whether the target rate was held (answers within 5 % of it;
// when not, the figures describe the machine more than the server, and the verdict says so).
//
//   npm run soak                       # 10 minutes, writes its section into docs/benchmarks.md
//   SOAK_MINUTES=2 npm run soak        # short form: prints, leaves the docs alone
//   SOAK_MINUTES=2 SOAK_WRITE_DOCS=1 npm run soak
import { rmSync } from "node:fs";
import { loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import { paced, percentile } from "./paced.mjs";
import { machine, table, writeSection } from "./section.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { startCli } = await import(join(root, "packages", "testkit", "dist", "index.js"));
const SERVICE = "soak-service-token-0123456789abcdef";
const MINUTES = Number(process.env.SOAK_MINUTES ?? 10);
const WRITE_DOCS = MINUTES >= 10 || process.env.SOAK_WRITE_DOCS === "1";
const SHARE = 0.8;
const CONNECTIONS = 50;
const USERS = 1_000;
const MAX_SAMPLES = 3;
const MAX_SECONDS = 10;
const HEADERS = { authorization: `Bearer ${SERVICE}`, "content-type": "application/json" };
// A bounded population (1,000 users in 20 orgs): a leak shows as growth, not a bigger store.
const BODIES = Array.from({ length: USERS }, (_, i) =>
  JSON.stringify({ subject: { user: `user-${i}`, org: `org-${i % 20}` }, category: "llm_call" }),
);
let next = 0;
const nextBody = () => BODIES[next++ % BODIES.length];
const mib = (bytes) => (bytes / 2 ** 20).toFixed(1);
const say = (line) => process.stdout.write(`${line}\n`);

/** The server's resident memory, from its own Prometheus endpoint. */
async function rss(url) {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/^tollgate_process_resident_memory_bytes (\S+)$/m.exec(text)?.[1] ?? Number.NaN);
}

function closedLoop(url, seconds) {
  return autocannon({
    url: `${url}/v1/check`,
    method: "POST",
    connections: CONNECTIONS,
    duration: seconds,
    headers: HEADERS,
    requests: [{ setupRequest: (req) => ({ ...req, body: nextBody() }) }],
  });
}

const server = await startCli({
  env: {
    TOLLGATE_SERVICE_TOKEN: SERVICE,
    TOLLGATE_ADMIN_TOKEN: "soak-admin-token-0123456789abcdef",
    TOLLGATE_LOG_LEVEL: "warn",
    TOLLGATE_LOG_REQUESTS: "false",
  },
});
try {
  await closedLoop(server.url, 5); // warm-up: JIT, connections, every subject's counters
  const samples = [];
  for (let i = 0; i < MAX_SAMPLES; i++) samples.push((await closedLoop(server.url, MAX_SECONDS)).requests.average);
  const max = [...samples].sort((a, b) => a - b)[Math.floor(MAX_SAMPLES / 2)];
  const rate = Math.round(max * SHARE);
  const rssBefore = await rss(server.url);
  const loadBefore = loadavg()[0];
  say(
    `max ${samples.map(Math.round).join(" / ")} req/s (median ${Math.round(max)}); soaking ${MINUTES} min at ${rate} req/s; RSS ${mib(rssBefore)} MiB; load average ${loadBefore.toFixed(1)}`,
  );

  const rows = [];
  const pending = [];
  const result = await paced({
    url: server.url,
    headers: HEADERS,
    nextBody,
    rate,
    seconds: MINUTES * 60,
    connections: CONNECTIONS,
    intervalMs: 60_000,
    onInterval: (minute) => {
      pending.push(
        rss(server.url).then((bytes) => {
          const row = {
            minute: minute.index,
            sentRate: minute.sent / minute.seconds,
            answerRate: minute.answered / minute.seconds,
            p50: percentile(minute.latencies, 0.5),
            p99: percentile(minute.latencies, 0.99),
            sendP99: percentile(minute.sendLatencies, 0.99),
            outstanding: minute.outstanding,
            errors: minute.errors,
            rss: bytes,
          };
          rows.push(row);
          say(
            `minute ${row.minute}: sent ${Math.round(row.sentRate)}/s, answered ${Math.round(row.answerRate)}/s (target ${rate}), p50 ${row.p50.toFixed(2)} ms, p99 ${row.p99.toFixed(2)} ms (from send ${row.sendP99.toFixed(2)}), backlog ${row.outstanding}, RSS ${mib(bytes)} MiB, non-200 ${row.errors}`,
          );
        }),
      );
    },
  });
  await Promise.all(pending);
  const loadAfter = loadavg()[0];
  rows.sort((a, b) => a.minute - b.minute);
  const first = rows[0];
  const last = rows[rows.length - 1];
  const growth = (last.rss - first.rss) / first.rss;
  const p99Ratio = last.p99 / first.p99;
  const achieved = result.answered / result.seconds;
  const held = rows.every((r) => r.answerRate >= rate * 0.95 || r === last);
  const verdict = [
    `Target ${rate} req/s, achieved ${Math.round(achieved)} req/s over the run (${held ? "held every minute" : "NOT held: some minutes fell more than 5 % short, so the machine, not only the server, set those figures"}).`,
    `RSS ${mib(rssBefore)} MiB before the soak, ${mib(first.rss)} MiB after minute 1, ${mib(last.rss)} MiB after minute ${last.minute}: ${growth >= 0 ? "+" : ""}${(growth * 100).toFixed(1)} % from minute 1 to minute ${last.minute} (${growth < 0.1 ? "under" : "OVER"} the 10 % bound).`,
    `p99 last/first ${p99Ratio.toFixed(2)}x (${p99Ratio <= 2 ? "stable" : "NOT stable"}; per minute from ${Math.min(...rows.map((r) => r.p99)).toFixed(0)} to ${Math.max(...rows.map((r) => r.p99)).toFixed(0)} ms); ${result.errors} non-200 answers of ${result.sent}.`,
    `Load average ${loadBefore.toFixed(1)} before, ${loadAfter.toFixed(1)} after (other jobs on the machine).`,
  ].join(" ");
  say(verdict);
  if (WRITE_DOCS) {
    writeSection(
      "soak",
      `## Soak: the server for ${MINUTES} minutes at 80 % of its maximum rate

\`npm run soak\` (\`SOAK_MINUTES=${MINUTES}\`; not in CI, loopback only; \`SOAK_MINUTES=2 npm run soak\` is the
short form): the real CLI on memory counters and embedded PGlite, request logging off. Maximum rate
first: the median of ${MAX_SAMPLES} closed-loop autocannon runs of ${MAX_SECONDS} s (${CONNECTIONS} connections, after a 5 s
warm-up): ${samples.map((s) => Math.round(s)).join(", ")} req/s, so **${Math.round(max)} req/s**. Then POST /v1/check at **${rate} req/s**
(80 %) for ${MINUTES} minutes from an open-loop client (bench/paced.mjs): released evenly over ${CONNECTIONS}
keep-alive sockets whatever the answers do, each timed from when it was due (queueing counts) and
from when it was sent (the server's own time), over a bounded population of ${USERS} users in 20 orgs.
Resident memory is the server's own \`process_resident_memory_bytes\`, read once a minute. The load
generator shares the machine (${machine()}) with other jobs.

${table(
  ["minute", "sent/s", "answered/s", "p50 ms", "p99 ms", "p99 from send ms", "backlog", "server RSS MiB"],
  rows.map((r) => [
    r.minute,
    Math.round(r.sentRate),
    Math.round(r.answerRate),
    r.p50.toFixed(2),
    r.p99.toFixed(2),
    r.sendP99.toFixed(2),
    r.outstanding,
    mib(r.rss),
  ]),
)}

${verdict}`,
    );
  }
} finally {
  await server.stop();
  rmSync(server.cwd, { recursive: true, force: true });
}
