// Builds the dashboard into build/: one content-hashed JS bundle and stylesheet under assets/, an
// index.html that loads them, and .gz twins the server sends to browsers that accept gzip. Prints
// the sizes and fails when the initial JavaScript exceeds its budget (150 KB gzipped).
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "build");
const BUDGET_GZIP = 150 * 1024;

const result = await build({
  entryPoints: [join(here, "src", "main.tsx")],
  bundle: true,
  minify: true,
  format: "esm",
  target: ["es2022"],
  jsx: "automatic",
  jsxImportSource: "preact",
  write: false,
  outdir: "out",
  sourcemap: false,
  legalComments: "none",
  logLevel: "warning",
});

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, "assets"), { recursive: true });
const written = {};
for (const file of result.outputFiles) {
  const ext = file.path.endsWith(".css") ? "css" : "js";
  const hash = createHash("sha256").update(file.contents).digest("hex").slice(0, 10);
  const name = `assets/app-${hash}.${ext}`;
  writeFileSync(join(out, name), file.contents);
  writeFileSync(join(out, `${name}.gz`), gzipSync(file.contents, { level: 9 }));
  written[ext] = { name, bytes: file.contents.length, gzip: gzipSync(file.contents, { level: 9 }).length };
}
const html = readFileSync(join(here, "src", "index.html"), "utf8")
  .replace("%CSS%", `/${written.css.name}`)
  .replace("%JS%", `/${written.js.name}`);
writeFileSync(join(out, "index.html"), html);
writeFileSync(join(out, "favicon.svg"), readFileSync(join(here, "src", "favicon.svg")));
writeFileSync(join(out, "size.json"), `${JSON.stringify(written, null, 2)}\n`);

const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
console.log(
  `dashboard: ${written.js.name} ${kb(written.js.bytes)} (${kb(written.js.gzip)} gzip), ${written.css.name} ${kb(written.css.bytes)} (${kb(written.css.gzip)} gzip)`,
);
if (written.js.gzip > BUDGET_GZIP) {
  console.error(`dashboard: initial JavaScript ${kb(written.js.gzip)} gzip is over the ${kb(BUDGET_GZIP)} budget`);
  process.exit(1);
}
