#!/usr/bin/env node
// Package hygiene for every publishable package (packages/* that are not private), on the tarball
// `npm pack` produces: publint (every level), Are the Types Wrong (ESM-only profile, see
// CONTRIBUTING.md: node10 resolution and CommonJS `module: node16` are deliberately unsupported),
// `npm publish --dry-run` without a warning, the metadata a registry page needs, a README with an
// install line, an example and a docs link, the LICENSE, and source maps that resolve inside the
// tarball.
//
//   node scripts/check-packages.mjs      (after `npm run build`)
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, posix, relative } from "node:path";
import { publint } from "publint";
import { formatMessage } from "publint/utils";
import { publishablePackages, root } from "./packages.mjs";

const rootManifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const attw = join(root, "node_modules/.bin/attw");
const work = mkdtempSync(join(tmpdir(), "tollgate-pack-"));
let failures = 0;

try {
  for (const pkg of publishablePackages()) {
    const problems = [];
    const { manifest, dir } = pkg;
    // Most packages ship compiled code in dist/; the dashboard ships its built static files in build/.
    const output = manifest.files?.includes("build") ? "build" : "dist";
    if (!existsSync(join(dir, output))) problems.push(`no ${output}/: run \`npm run build\` first`);
    else {
      problems.push(...checkManifest(manifest, relative(root, dir), output));
      const tarball = packInto(dir, work);
      const files = listTarball(tarball);
      problems.push(...checkContents(files, tarball));
      problems.push(...checkReadme(manifest.name, readTarballFile(tarball, "README.md")));
      problems.push(...(await checkPublint(tarball)));
      // A package with no typed entry point (the dashboard's static files) has no types to check.
      if (JSON.stringify(manifest.exports ?? {}).includes(".d.ts")) problems.push(...checkTypes(tarball));
      problems.push(...checkPublishDryRun(dir));
    }
    failures += problems.length;
    console.log(`${problems.length ? "FAIL" : "ok  "} ${pkg.name}`);
    for (const problem of problems) console.log(`     - ${problem.replaceAll("\n", "\n       ")}`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
if (failures) {
  console.log(`\n${failures} packaging problem(s)`);
  process.exit(1);
}

/** The fields a registry page, a bug report and an install on the wrong Node need. */
function checkManifest(manifest, path, output = "dist") {
  const problems = [];
  const need = (ok, message) => ok || problems.push(`package.json: ${message}`);
  need(manifest.license === "MIT", `license must be "MIT" (got ${manifest.license})`);
  need(manifest.type === "module", `type must be "module"`);
  need(typeof manifest.description === "string" && manifest.description.length > 20, "a description");
  need(Array.isArray(manifest.keywords) && manifest.keywords.length >= 3, "at least 3 keywords");
  need(manifest.engines?.node === rootManifest.engines.node, `engines.node must be "${rootManifest.engines.node}"`);
  need(
    manifest.repository?.url === rootManifest.repository.url,
    `repository.url must be ${rootManifest.repository.url}`,
  );
  need(manifest.repository?.directory === path.split("\\").join("/"), `repository.directory must be "${path}"`);
  need(manifest.homepage?.startsWith(rootManifest.homepage.replace(/#readme$/, "")), "homepage inside the repository");
  need(typeof manifest.bugs === "string" || typeof manifest.bugs?.url === "string", "bugs");
  need(Array.isArray(manifest.files) && manifest.files.includes(output), `files must list "${output}"`);
  need(manifest.files?.includes("CHANGELOG.md"), `files must list "CHANGELOG.md" (npm does not ship it otherwise)`);
  // Static files (the dashboard) have no code entry point; everything else must have one.
  if (output === "dist") need(manifest.exports?.["."] !== undefined, `exports["."]`);
  if (manifest.name.startsWith("@")) need(manifest.publishConfig?.access === "public", `publishConfig.access "public"`);
  for (const [name, range] of Object.entries(manifest.dependencies ?? {})) {
    need(range !== "*" && range !== "latest", `dependency ${name} needs a real range (got "${range}")`);
  }
  return problems;
}

function packInto(dir, destination) {
  const out = execFileSync("npm", ["pack", "--json", "--pack-destination", destination], {
    cwd: dir,
    encoding: "utf8",
  });
  return join(destination, JSON.parse(out)[0].filename);
}

function listTarball(tarball) {
  return execFileSync("tar", ["-tzf", tarball], { encoding: "utf8" })
    .split("\n")
    .filter(Boolean)
    .map((file) => file.replace(/^package\//, ""));
}

function readTarballFile(tarball, file) {
  try {
    const options = { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] };
    return execFileSync("tar", ["-xzOf", tarball, `package/${file}`], options);
  } catch {
    return "";
  }
}

/** README and LICENSE shipped, no tests, and every source map's sources inside the tarball. */
function checkContents(files, tarball) {
  const problems = [];
  const shipped = new Set(files);
  for (const file of ["README.md", "LICENSE", "package.json"]) {
    if (!shipped.has(file)) problems.push(`tarball: no ${file}`);
  }
  for (const file of files) {
    if (/\.test\.|(^|\/)test\/|\.tsbuildinfo$/.test(file)) problems.push(`tarball: ships ${file}`);
  }
  const maps = files.filter((file) => file.endsWith(".map"));
  const missing = new Set();
  for (const map of maps) {
    const { sources = [] } = JSON.parse(readTarballFile(tarball, map) || "{}");
    for (const source of sources) {
      const resolved = posix.normalize(posix.join(posix.dirname(map), source));
      if (!shipped.has(resolved)) missing.add(resolved);
    }
  }
  if (missing.size)
    problems.push(`tarball: source maps point at files it does not ship: ${[...missing].slice(0, 5).join(", ")}`);
  return problems;
}

/** What it is, how to install it, an example, and where the docs are. */
function checkReadme(name, readme) {
  const problems = [];
  const need = (ok, message) => ok || problems.push(`README.md: ${message}`);
  need(readme.startsWith(`# ${name}`), `must start with "# ${name}"`);
  need(
    readme.includes(`npm install ${name}`) || new RegExp(`npm install [^\\n]*${name}`).test(readme),
    "an install line",
  );
  need(/```(ts|js|sh)[^\n]*\n[\s\S]+?```/.test(readme), "an example");
  need(/\]\((https:\/\/[^)]+\/docs\/[^)]+)\)/.test(readme), "a link to the documentation");
  return problems;
}

async function checkPublint(tarball) {
  const data = readFileSync(tarball);
  const { messages, pkg } = await publint({
    // The tarball's files are named package/...: that is the package's directory.
    pkgDir: "package",
    level: "suggestion",
    strict: true,
    pack: { tarball: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) },
  });
  return messages.map((message) => `publint (${message.type}): ${formatMessage(message, pkg, { color: false })}`);
}

/** Are the Types Wrong, ESM-only profile: node16 (ESM) and bundler resolution of every entry point. */
function checkTypes(tarball) {
  const result = spawnSync(attw, [tarball, "--profile", "esm-only", "--format", "ascii", "--no-color"], {
    encoding: "utf8",
  });
  return result.status === 0 ? [] : [`attw:\n${(result.stdout + result.stderr).trim()}`];
}

/** `npm publish --dry-run`: everything npm would say at publish time, without a single warning. */
function checkPublishDryRun(dir) {
  const result = spawnSync("npm", ["publish", "--dry-run"], { cwd: dir, encoding: "utf8" });
  // A dry run without registry credentials always says so; that line is not about the package.
  const warnings = result.stderr
    .split("\n")
    .filter((line) => /npm (warn|error)/i.test(line) && !/requires you to be logged in .*\(dry-run\)/.test(line));
  if (result.status !== 0 || warnings.length) {
    return [`npm publish --dry-run (exit ${result.status}):\n${warnings.join("\n") || result.stderr.trim()}`];
  }
  return [];
}
