// The packages this repository publishes: every packages/* with a package.json that is not
// private. Shared by the packaging checks and the consumer test, so a package added later is
// checked without anyone listing it.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const root = fileURLToPath(new URL("..", import.meta.url));

/** @returns {{ name: string, dir: string, manifest: Record<string, any> }[]} */
export function publishablePackages() {
  const base = join(root, "packages");
  const found = [];
  for (const entry of readdirSync(base, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const dir = join(base, entry.name);
    let manifest;
    try {
      manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
    } catch {
      continue;
    }
    if (!manifest.private) found.push({ name: manifest.name, dir, manifest });
  }
  return found.sort((a, b) => a.name.localeCompare(b.name));
}

/** The names of `packages` plus every publishable package they depend on, transitively. */
export function withInternalDependencies(names, packages = publishablePackages()) {
  const byName = new Map(packages.map((p) => [p.name, p]));
  const closure = new Set();
  const visit = (name) => {
    const pkg = byName.get(name);
    if (!pkg) throw new Error(`${name} is not a publishable package of this repository`);
    if (closure.has(name)) return;
    closure.add(name);
    for (const dep of Object.keys(pkg.manifest.dependencies ?? {})) if (byName.has(dep)) visit(dep);
  };
  for (const name of names) visit(name);
  return [...closure];
}
