import { createAlerts, silentLogger } from "@tollgate/alerts";
import { createLimiter, manualClock, memoryStore } from "@tollgate/core";
import { spawn } from "node:child_process";
const SUBJECTS = 10_000, IN_FLIGHT = 100, R = Number(process.env.R ?? 20);
const subjects = Array.from({ length: SUBJECTS }, (_, i) => ({ subject: { org: `org-${i}` }, category: "llm_call" }));
const categories = { llm_call: { limits: [{ name: "org-minute", per: "org", algorithm: "fixed-window", limit: 15, window: "1m", mode: "monitor", alert: "ops" }] } };
let sinks;
if (process.env.SINK === "webhook") {
  const child = spawn(process.execPath, ["-e", `const s = require("node:http").createServer((q, r) => { q.resume(); q.on("end", () => { r.statusCode = 204; r.end(); }); }); s.listen(0, "127.0.0.1", () => console.log(s.address().port));`], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise((r) => child.stdout.once("data", (d) => r(String(d).trim())));
  sinks = { ops: { type: "webhook", url: `http://127.0.0.1:${port}/hook` } };
  process.on("exit", () => child.kill());
} else if (process.env.SINK === "log") sinks = { ops: { type: "log" } };
const clock = manualClock(Date.UTC(2026, 2, 10, 12));
const store = memoryStore({ clock });
const alerts = sinks ? createAlerts({ store, clock, logger: silentLogger, config: sinks }) : undefined;
const limiter = createLimiter({ store, clock, categories, ...(alerts ? { hooks: alerts.hooks } : {}) });
const wave = new Array(IN_FLIGHT);
let done = 0; const windows = Number(process.env.W ?? 4);
const cpu0 = process.cpuUsage();
while (done < windows * SUBJECTS * R) {
  for (let k = 0; k < IN_FLIGHT; k++) wave[k] = limiter.check(subjects[(done + k) % SUBJECTS]);
  await Promise.all(wave);
  done += IN_FLIGHT;
  if (done % (SUBJECTS * R) === 0) clock.advance(60_000);
  if (done % (IN_FLIGHT * 10) === 0) await new Promise((r) => setImmediate(r));
}
await alerts?.drain();
const c = process.cpuUsage(cpu0);
const st = alerts?.stats(); console.log(process.env.SINK ?? "off", process.env.TOLLGATE_POSTER ?? "", "rate/cpu-s", Math.round(done / ((c.user + c.system) / 1e6)), "cpu-s", ((c.user + c.system) / 1e6).toFixed(2), "delivered", st?.delivered, "dropped", st?.dropped);
await alerts?.close(0);
process.exit(0);
