// Decisions/s with alerting on vs off, in one run: 10,000 organisations, each crossing a monitor
// limit (case 2: 15 per organisation per minute) in every window. Measured in two parts, both
// interleaved on/off in the same run, then put together for case 2's own time scale:
//  - "between crossings": the traffic around the crossings (every organisation already over its
//    threshold in this window): what alerting costs a decision that raises nothing;
//  - "compressed": a manual clock moves to the next minute once every organisation has sent R
//    requests, so 1 decision in R raises a threshold_crossed (claimed, built, queued, delivered):
//    what one alert costs, measured over whole windows.
// Run: npm run bench -- alerts   (or: npx tsc -b && node --expose-gc bench/alerts.bench.mjs)

import { spawn } from "node:child_process";
import { loadavg } from "node:os";
import { createAlerts, silentLogger } from "@tollgate/alerts";
import { createLimiter, manualClock, memoryStore } from "@tollgate/core";
import { machine, table, writeSection } from "./section.mjs";

const SUBJECTS = 10_000;
const IN_FLIGHT = 100;
const DURATION_MS = Number(process.env.BENCH_MS ?? 1_500);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const THRESHOLD = 15; // case 2's llm_call threshold, per organisation per minute
const WINDOW_S = 60;
const COMPRESSED = [20, 100]; // requests per organisation per window
const subjects = Array.from({ length: SUBJECTS }, (_, i) => ({ subject: { org: `org-${i}` }, category: "llm_call" }));
const categories = {
  llm_call: {
    limits: [
      {
        name: "org-minute",
        per: "org",
        algorithm: "fixed-window",
        limit: THRESHOLD,
        window: "1m",
        mode: "monitor",
        alert: "ops",
      },
    ],
  },
};

/** A webhook receiver in its own process (answers 204), so its work is not counted here. */
function startReceiver() {
  const child = spawn(
    process.execPath,
    [
      "-e",
      `const s = require("node:http").createServer((q, r) => { q.resume(); q.on("end", () => { r.statusCode = 204; r.end(); }); });
       s.listen(0, "127.0.0.1", () => console.log(s.address().port));`,
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  return new Promise((resolve) => {
    child.stdout.once("data", (data) => resolve({ url: `http://127.0.0.1:${String(data).trim()}/hook`, child }));
  });
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

/**
 * Decisions per CPU second over whole passes (every organisation once), waves of IN_FLIGHT issued
 * then awaited, yielding to the event loop every 10 waves as a server does between requests (so
 * deliveries go out during the run). `perWindow` requests per organisation per window, or
 * `undefined` for traffic between crossings (the window never ends; its crossings happen before
 * the measurement, delivered and settled).
 */
async function measure(sinks, perWindow) {
  const clock = manualClock(Date.UTC(2026, 2, 10, 12, 0, 0));
  const store = memoryStore({ clock });
  const alerts = sinks ? createAlerts({ store, clock, logger: silentLogger, config: sinks }) : undefined;
  const limiter = createLimiter({ store, clock, categories, ...(alerts ? { hooks: alerts.hooks } : {}) });
  const wave = new Array(IN_FLIGHT);
  const run = async (until) => {
    let done = 0;
    const started = performance.now();
    while (until(done, started)) {
      for (let k = 0; k < IN_FLIGHT; k++) wave[k] = limiter.check(subjects[(done + k) % SUBJECTS]);
      await Promise.all(wave);
      done += IN_FLIGHT;
      if (perWindow !== undefined && done % (SUBJECTS * perWindow) === 0) clock.advance(WINDOW_S * 1000);
      if (done % (IN_FLIGHT * 10) === 0) await tick();
    }
    return done;
  };
  if (perWindow === undefined) {
    // Every organisation crosses (and its alert is delivered) before the measurement starts.
    await run((done) => done < SUBJECTS * (THRESHOLD + 1));
    await alerts?.drain();
  }
  const whole = SUBJECTS * (perWindow ?? 1);
  const cpuStart = process.cpuUsage();
  const done = await run((n, started) => performance.now() - started < DURATION_MS || n % whole !== 0);
  // Every alert raised is delivered before the clock stops: its sending is part of its cost.
  await alerts?.drain();
  // CPU seconds of this process (all its threads, GC included), not wall time: on a shared machine
  // other processes stretch wall time at random, while the work done per decision stays put.
  const cpu = process.cpuUsage(cpuStart);
  const seconds = (cpu.user + cpu.system) / 1e6;
  const stats = alerts?.stats();
  await alerts?.close(0);
  const events = stats && perWindow !== undefined ? stats.events : 0;
  return { rate: done / seconds, alerts: events / seconds, stats };
}

const receiver = await startReceiver();
const variants = [
  { name: "off", sinks: undefined },
  { name: "on, log sink", sinks: { ops: { type: "log" } } },
  { name: "on, webhook", sinks: { ops: { type: "webhook", url: receiver.url } } },
];
const levels = [undefined, ...COMPRESSED];
const levelName = (perWindow) =>
  perWindow === undefined
    ? "between crossings"
    : `compressed: ${perWindow} per org per window (1 in ${perWindow} alerts)`;
await measure(variants[1].sinks, 20); // warm-up
await measure(variants[2].sinks, 20);
const best = new Map();
for (let round = 0; round < ROUNDS; round++) {
  // Interleaved: every variant of every traffic level once per round, so none gets the quieter moment.
  for (const perWindow of levels) {
    for (const variant of variants) {
      const key = `${perWindow}|${variant.name}`;
      if (global.gc) global.gc();
      const result = await measure(variant.sinks, perWindow);
      console.log(
        `round ${round + 1}, ${levelName(perWindow)}, ${variant.name}: ${Math.round(result.rate).toLocaleString("en-US")}/s`,
      );
      if (result.rate > (best.get(key)?.rate ?? 0)) best.set(key, result);
    }
  }
}
receiver.child.kill();

const fmt = (n) => Math.round(n).toLocaleString("en-US");
const pct = (x) => `${(100 * x).toFixed(1)} %`;
const rows = levels.flatMap((perWindow) => {
  const off = best.get(`${perWindow}|off`).rate;
  return variants.map((variant) => {
    const r = best.get(`${perWindow}|${variant.name}`);
    const on = variant.sinks !== undefined;
    return [
      levelName(perWindow),
      `alerting ${variant.name}`,
      fmt(r.rate),
      on ? pct((off - r.rate) / off) : "-",
      on && perWindow !== undefined ? fmt(r.alerts) : "-",
      on && perWindow !== undefined ? `${fmt(r.stats.delivered)} delivered, ${fmt(r.stats.dropped)} dropped` : "-",
    ];
  });
});
/** CPU µs one alert adds, from a compressed level: extra time per decision times decisions per alert. */
const perAlertUs = (perWindow, variant) =>
  (1e6 / best.get(`${perWindow}|${variant}`).rate - 1e6 / best.get(`${perWindow}|off`).rate) * perWindow;
/** CPU µs alerting adds to a decision that raises nothing (floored at 0: within noise it can read negative). */
const perDecisionUs = (variant) =>
  Math.max(0, 1e6 / best.get(`undefined|${variant}`).rate - 1e6 / best.get("undefined|off").rate);
const offUs = 1e6 / best.get("undefined|off").rate;
/** Case 2 in real time: per minute, 10,000 alerts among all the decisions one core makes. */
const realTime = (variant) => {
  const alertUs = Math.max(...COMPRESSED.map((w) => perAlertUs(w, variant)));
  const alertsShare = (SUBJECTS * alertUs) / (WINDOW_S * 1e6); // of one core's time
  return { alertUs, decisionUs: perDecisionUs(variant), cost: perDecisionUs(variant) / offUs + alertsShare };
};
const scenario = variants.slice(1).map((variant) => {
  const r = realTime(variant.name);
  return [
    `alerting ${variant.name}`,
    `${r.decisionUs.toFixed(3)} µs (${pct(r.decisionUs / offUs)})`,
    `${r.alertUs.toFixed(1)} µs`,
    `**${pct(r.cost)}**`,
    r.cost < 0.05 ? "met" : "not met",
  ];
});
const markdown = `## Alerts: decisions/s with alerting on vs off (\`npm run bench -- alerts\`)

Machine: ${machine()}; load average at the end ${loadavg()[0].toFixed(2)} (shared with other work: every figure is per **CPU second** of the bench process, all its threads and GC included, and on/off are measured in interleaved rounds in the same run, best of ${ROUNDS} per row). Memory store, \`check\` with ${IN_FLIGHT} decisions in flight, ${SUBJECTS.toLocaleString("en-US")} organisations in turn, one monitor limit of ${THRESHOLD} per organisation per minute alerting \`ops\` (case 2); "off" is the same limit without the alerts hook. Every organisation crosses in every window. The webhook receiver runs in another process and answers 204; a measurement ends once every alert it raised is delivered (or dropped: the queue holds 10,000, and a dropped alert costs no sending), so delivery is counted.

**Case 2 in real time (the target).** 10,000 organisations each crossing once a minute raise 10,000 alerts a minute among all the decisions a core makes meanwhile. Put together from the two measured parts below: what alerting costs each decision that raises nothing, plus 10,000 times what one alert costs (the larger of the compressed levels' figures), per minute of one core:

${table(["variant", "added per decision raising nothing", "added per alert (claim, build, record, deliver)", "cost vs off", "target < 5 %"], scenario)}

**Measured.** "Between crossings": every organisation is already over its threshold in this window (its alert raised and delivered before the measurement): the normal traffic around the crossings. "Compressed": a manual clock moves to the next minute once every organisation has sent R requests, so 1 decision in R raises an alert, 10 to 100 times denser than case 2 at these decision rates; each measurement covers whole windows (at least ${DURATION_MS / 1000} s) and yields to the event loop every ${IN_FLIGHT * 10} decisions, as a server does between requests.

${table(["traffic", "variant", "decisions per CPU second", "cost vs off", "alerts per CPU second", "deliveries in the best round"], rows)}

A webhook delivery is one HTTP POST (undici, keep-alive): its CPU, most of it the socket write, is what the compressed webhook rows pay per alert; in case 2's real time that is 167 POSTs a second.
`;
console.log(markdown);
writeSection("alerts", markdown);
