#!/usr/bin/env node
// Release dry run: in a throwaway copy of the workspace, add a patch changeset for every
// publishable package, run `changeset version` with this repository's configuration, check what
// a release would do (one version for every publishable package, internal ranges and changelogs
// updated, private packages untouched), and `npm publish --dry-run` each package as versioned.
// Nothing in the repository changes and nothing is published.
//
//   node scripts/release-dry-run.mjs      (after `npm run build`)
import { spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import semver from "semver";
import { publishablePackages, root } from "./packages.mjs";

const problems = [];
const fail = (message) => problems.push(message);
const readJson = (path) => JSON.parse(readFileSync(path, "utf8"));
const rootManifest = readJson(join(root, "package.json"));
const packages = publishablePackages();
const work = mkdtempSync(join(tmpdir(), "tollgate-release-"));

try {
  copyWorkspace(work);
  const names = packages.map((p) => p.name);
  const summary = "Release dry run: nothing is published.";
  writeFileSync(
    join(work, ".changeset/release-dry-run.md"),
    `---\n${names.map((name) => `"${name}": patch`).join("\n")}\n---\n\n${summary}\n`,
  );
  const before = new Map(workspaceManifests(work).map(([path, manifest]) => [path, manifest]));
  const changeset = join(root, "node_modules/@changesets/cli/bin.js");
  const versioned = spawnSync(process.execPath, [changeset, "version"], { cwd: work, encoding: "utf8" });
  if (versioned.status !== 0) throw new Error(`changeset version failed:\n${versioned.stdout}${versioned.stderr}`);

  const after = new Map(workspaceManifests(work));
  const versions = new Set(packages.map((p) => after.get(relative(root, p.dir)).version));
  if (versions.size !== 1) fail(`publishable packages got different versions: ${[...versions].join(", ")}`);
  const [version] = versions;
  // The pending changesets may ask for more than this run's patch (a minor or major bump).
  const current = packages.map((p) => p.manifest.version).reduce((a, b) => (semver.gte(a, b) ? a : b));
  const expected = semver.inc(current, pendingBump(join(root, ".changeset"), names));
  if (version !== expected) fail(`expected every package at ${expected}, got ${version}`);
  for (const [path, manifest] of after) {
    const old = before.get(path);
    if (manifest.private) {
      if (manifest.version !== old.version) fail(`${manifest.name} is private but was versioned`);
      continue;
    }
    const changelog = readFileSync(join(work, path, "CHANGELOG.md"), "utf8");
    if (!changelog.includes(`## ${version}`) || !changelog.includes(summary)) {
      fail(`${path}/CHANGELOG.md has no ${version} entry`);
    }
    for (const [dep, range] of Object.entries(manifest.dependencies ?? {})) {
      if (names.includes(dep) && range !== `^${version}`)
        fail(`${manifest.name} depends on ${dep}@${range}, not ^${version}`);
    }
    const published = spawnSync("npm", ["publish", "--dry-run", "--json"], { cwd: join(work, path), encoding: "utf8" });
    const warnings = published.stderr
      .split("\n")
      .filter((line) => /npm (warn|error)/i.test(line) && !/requires you to be logged in .*\(dry-run\)/.test(line));
    if (published.status !== 0 || warnings.length)
      fail(`npm publish --dry-run ${manifest.name}:\n${warnings.join("\n")}`);
    // npm 11 keys the report by package name; older npm prints the report itself.
    const report = JSON.parse(published.stdout.slice(published.stdout.indexOf("{")) || "{}");
    const files = (report.files ?? report[manifest.name]?.files ?? []).map((file) => file.path);
    if (!files.includes("CHANGELOG.md")) fail(`${manifest.name}: the tarball would not ship CHANGELOG.md`);
    console.log(`${manifest.name}@${manifest.version}: versioned, changelog entry, npm publish --dry-run checked`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

if (problems.length) {
  console.error(`\nrelease dry run FAILED:\n- ${problems.join("\n- ")}`);
  process.exit(1);
}
console.log("release dry run ok");

/** The manifests, changesets and publishable files of every workspace, without node_modules. */
function copyWorkspace(destination) {
  cpSync(join(root, ".changeset"), join(destination, ".changeset"), { recursive: true });
  writeFileSync(join(destination, "package.json"), JSON.stringify(rootManifest, null, 2));
  for (const pattern of rootManifest.workspaces) {
    const base = pattern.endsWith("/*") ? pattern.slice(0, -2) : pattern;
    const dirs = pattern.endsWith("/*") ? readdirSync(join(root, base)).map((d) => join(base, d)) : [base];
    for (const dir of dirs) {
      if (!existsSync(join(root, dir, "package.json"))) continue;
      mkdirSync(join(destination, dir), { recursive: true });
      cpSync(join(root, dir), join(destination, dir), {
        recursive: true,
        filter: (source) => !source.includes("node_modules") && !source.includes(".tollgate"),
      });
    }
  }
  // changeset resolves its changelog generator from the project.
  symlinkSync(join(root, "node_modules"), join(destination, "node_modules"), "dir");
}

function workspaceManifests(base) {
  const found = [];
  for (const pattern of rootManifest.workspaces) {
    const dir = pattern.endsWith("/*") ? pattern.slice(0, -2) : pattern;
    const dirs = pattern.endsWith("/*") ? readdirSync(join(base, dir)).map((d) => join(dir, d)) : [dir];
    for (const path of dirs)
      if (existsSync(join(base, path, "package.json"))) found.push([path, readJson(join(base, path, "package.json"))]);
  }
  return found;
}

/** The largest bump the pending changesets ask for on a publishable package (at least a patch). */
function pendingBump(dir, names) {
  const order = ["patch", "minor", "major"];
  let largest = 0;
  for (const file of readdirSync(dir).filter((name) => name.endsWith(".md") && name !== "README.md")) {
    const front = readFileSync(join(dir, file), "utf8").split("---")[1] ?? "";
    for (const match of front.matchAll(/^"([^"]+)":\s*(patch|minor|major)\s*$/gm)) {
      if (names.includes(match[1])) largest = Math.max(largest, order.indexOf(match[2]));
    }
  }
  return order[largest];
}
