// Shared by the benches: write one markdown section into docs/benchmarks.md between markers.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const docs = join(dirname(fileURLToPath(import.meta.url)), "..", "docs", "benchmarks.md");
const HEADER = `# Benchmarks

Run all of them with \`npm run bench\` (or one: \`npm run bench -- core\`). Each section below is
rewritten by its bench; figures come from one run on the machine named in the section.
`;

/** Describes the machine a figure was measured on. */
export function machine() {
  return `${cpus().length} x ${cpus()[0]?.model ?? "cpu"}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
}

/** Formats rows (arrays of cells) as a markdown table. */
export function table(headers, rows) {
  const line = (cells) => `| ${cells.join(" | ")} |`;
  return [line(headers), line(headers.map(() => "---")), ...rows.map(line)].join("\n");
}

/** Replaces (or appends) the section `name` of docs/benchmarks.md with `markdown`. */
export function writeSection(name, markdown) {
  let text = existsSync(docs) ? readFileSync(docs, "utf8") : HEADER;
  const start = `<!-- bench:${name} -->`;
  const end = `<!-- /bench:${name} -->`;
  const block = `${start}\n${markdown.trim()}\n${end}`;
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  text =
    from >= 0 && to > from
      ? text.slice(0, from) + block + text.slice(to + end.length)
      : `${text.trimEnd()}\n\n${block}\n`;
  writeFileSync(docs, text);
}
