// Runs every bench/*.bench.mjs (or those named on the command line: `npm run bench -- core redis`)
// one after another, each in its own process, and writes their markdown sections to
// docs/benchmarks.md. Each bench prints its table to stdout and writes its section between
// `<!-- bench:NAME -->` markers, so running one bench updates only its own section.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2);
const benches = readdirSync(here)
  .filter((file) => file.endsWith(".bench.mjs"))
  .filter((file) => wanted.length === 0 || wanted.includes(file.replace(".bench.mjs", "")))
  .sort();
let failed = 0;
for (const file of benches) {
  console.log(`\n=== ${file} ===`);
  const result = spawnSync(process.execPath, ["--expose-gc", join(here, file)], { stdio: "inherit" });
  if (result.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
