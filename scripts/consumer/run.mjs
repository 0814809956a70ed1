#!/usr/bin/env node
// The consumer test: packs every publishable package with `npm pack`, installs the tarballs into
// fresh npm projects outside the workspace (no workspace links; plain `npm install`, so a peer
// range that rejects a supported framework fails here as ERESOLVE), and runs what a user runs:
// the README's examples per framework and major version up to a 429, ESM and CommonJS apps,
// TypeScript type-checks against the published declarations, and `npx tollgate serve`.
//
//   node scripts/consumer/run.mjs [--only express-4,server] [--keep]
//
// Needs `npm run build` first and the npm registry for the frameworks. All projects share npm's
// cache (npm_config_cache, default ~/.npm), so a second run installs from it.
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { publishablePackages, root, withInternalDependencies } from "../packages.mjs";
import { checkConformance, checkFramework, checkModules, checkNext, checkServer } from "./checks.mjs";
import { run, StepError } from "./lib.mjs";
import { projects } from "./projects.mjs";

const { values } = parseArgs({ options: { only: { type: "string" }, keep: { type: "boolean" } } });
const only = values.only?.split(",");
const unknown = only?.filter((name) => !projects.some((project) => project.name === name));
if (unknown?.length) {
  console.error(`unknown project(s): ${unknown.join(", ")}; known: ${projects.map((p) => p.name).join(", ")}`);
  process.exit(2);
}

const packages = publishablePackages();
for (const pkg of packages) {
  // Compiled packages ship dist/; the dashboard ships its built static files in build/.
  const output = pkg.manifest.files?.includes("build") ? "build" : "dist";
  if (!existsSync(join(pkg.dir, output))) {
    console.error(`${pkg.name} has no ${output}/: run \`npm run build\` first`);
    process.exit(2);
  }
}

const work = mkdtempSync(join(tmpdir(), "tollgate-consumer-"));
// Node resolves bare imports through every ancestor's node_modules: a stray one above the projects
// would hide a missing dependency.
for (let dir = dirname(work); ; dir = dirname(dir)) {
  if (existsSync(join(dir, "node_modules"))) throw new Error(`${dir}/node_modules would leak into the projects`);
  if (dir === dirname(dir)) break;
}
console.log(`consumer test in ${work} (node ${process.version})`);

const CHECKS = {
  framework: checkFramework,
  next: checkNext,
  modules: checkModules,
  conformance: checkConformance,
  server: checkServer,
};
const results = [];
let tarballs;
try {
  tarballs = await pack(join(work, "tarballs"));
  for (const project of projects) {
    if (only && !only.includes(project.name)) continue;
    const began = Date.now();
    process.stdout.write(`\n--- ${project.name}\n`);
    const dir = join(work, project.name);
    try {
      await install(project, dir);
      await CHECKS[project.kind](project, dir, { packages });
      results.push({ name: project.name, ok: true, seconds: (Date.now() - began) / 1000 });
    } catch (error) {
      console.error(error instanceof StepError ? error.message : error);
      results.push({ name: project.name, ok: false, seconds: (Date.now() - began) / 1000 });
    } finally {
      // One project on disk at a time (a Next.js project is ~250 MB).
      if (!values.keep) rmSync(dir, { recursive: true, force: true });
    }
  }
} finally {
  if (values.keep) console.log(`\nkept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}

console.log("\nproject           result  seconds");
for (const { name, ok, seconds } of results) {
  console.log(`${name.padEnd(17)} ${ok ? "ok    " : "FAILED"}  ${seconds.toFixed(1)}`);
}
if (results.some((result) => !result.ok)) process.exit(1);

/** `npm pack` of every publishable package into `destination`: name -> tarball path. */
async function pack(destination) {
  mkdirSync(destination, { recursive: true });
  const args = ["pack", "--json", "--pack-destination", destination, ...packages.flatMap((p) => ["-w", p.dir])];
  const { stdout } = await run("npm", args, { cwd: root });
  const packed = JSON.parse(stdout);
  for (const { filename } of packed) console.log(`packed ${filename}`);
  return new Map(packed.map(({ name, filename }) => [name, join(destination, filename)]));
}

/** A fresh project with a plain `npm install` of the tarballs it needs and its framework versions. */
async function install(project, dir) {
  mkdirSync(dir, { recursive: true });
  // Next.js apps get no "type" at all, as create-next-app writes them (Turbopack rejects ESM syntax
  // under an explicit "commonjs").
  const type = project.packageType === undefined ? "module" : project.packageType;
  const manifest = { name: `consumer-${project.name}`, version: "0.0.0", private: true, ...(type ? { type } : {}) };
  writeFileSync(join(dir, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  const wanted = project.tollgate === "all" ? packages.map((p) => p.name) : withInternalDependencies(project.tollgate);
  const extra = project.kind === "modules" ? peersOf(wanted) : [];
  const specs = [...wanted.map((name) => tarballs.get(name)), ...project.install, ...extra];
  const began = Date.now();
  const { stderr } = await run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", ...specs], {
    cwd: dir,
    env: { npm_config_update_notifier: "false" },
  });
  // Peer conflicts npm resolved by force, or engines our packages declare that Node rejects.
  const complaints = stderr.split("\n").filter((line) => /ERESOLVE|peer dep|EBADENGINE.*@tollgate/i.test(line));
  if (complaints.length) throw new StepError(`npm install warned:\n${complaints.join("\n")}`);
  for (const name of wanted) {
    const installed = join(dir, "node_modules", name);
    if (lstatSync(installed).isSymbolicLink()) throw new StepError(`${name} is a link, not an installed tarball`);
    const { version } = JSON.parse(readFileSync(join(installed, "package.json"), "utf8"));
    const expected = packages.find((p) => p.name === name).manifest.version;
    if (version !== expected) throw new StepError(`${name}: installed ${version}, packed ${expected}`);
  }
  const seconds = ((Date.now() - began) / 1000).toFixed(1);
  console.log(`  npm install ${wanted.join(" ")} ${[...project.install, ...extra].join(" ")} (${seconds} s)`);
  for (const [file, content] of Object.entries(project.files ?? {})) {
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    writeFileSync(join(dir, file), content);
  }
}

/** Every optional framework or test peer our packages declare, plus its types, so each subpath can load. */
function peersOf(names) {
  const TYPES = { express: "@types/express" };
  const specs = new Set();
  for (const pkg of packages) {
    if (!names.includes(pkg.name)) continue;
    for (const [peer, range] of Object.entries(pkg.manifest.peerDependencies ?? {})) {
      if (names.includes(peer)) continue;
      specs.add(`${peer}@${range}`);
      if (TYPES[peer]) specs.add(TYPES[peer]);
    }
  }
  return [...specs];
}
