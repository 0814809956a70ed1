// Start-up time of `npm start` on a warm checkout: built (the launcher's `tsc -b` finds nothing to
// do) and the embedded database already created. Time from running `npm start` to the server's
// "listening" line, best and median of RUNS, after one untimed start that creates the database.
//
//   node bench/startup.mjs
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { machine, writeSection } from "./section.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const RUNS = Number(process.env.STARTUP_RUNS ?? 5);
const data = mkdtempSync(join(tmpdir(), "tollgate-startup-"));

function start() {
  const began = performance.now();
  const child = spawn("npm", ["start", "--", "--port", "0"], {
    cwd: root,
    env: { ...process.env, TOLLGATE_DATA_DIR: join(data, "pglite"), TOLLGATE_LOG_LEVEL: "warn" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  return new Promise((resolve, reject) => {
    let up = false;
    const poll = setInterval(() => {
      if (!/listening on/.test(output)) return;
      up = true;
      clearInterval(poll);
      const ms = performance.now() - began;
      child.once("exit", () => resolve(ms));
      child.kill("SIGTERM");
    }, 5);
    child.once("exit", (code) => {
      clearInterval(poll);
      if (!up) reject(new Error(`npm start exited ${code}:\n${output}`));
    });
  });
}

try {
  await start(); // creates the database
  const times = [];
  for (let i = 0; i < RUNS; i++) times.push(await start());
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)];
  const line = `best ${(times[0] / 1000).toFixed(2)} s, median ${(median / 1000).toFixed(2)} s over ${RUNS} runs`;
  process.stdout.write(`npm start, warm: ${line}\n`);
  writeSection(
    "startup",
    `## Start-up: \`npm start\` on a warm checkout

\`node bench/startup.mjs\`: the time from running \`npm start\` to the server's "listening" line, with
the checkout already built and the embedded database already created (the first start also creates
the PGlite database, which takes longer). It includes npm itself, the launcher's no-op \`tsc -b\`,
loading the server, opening PGlite and seeding the catalog: **${line}** (${machine()}).`,
  );
} finally {
  rmSync(data, { recursive: true, force: true });
}
