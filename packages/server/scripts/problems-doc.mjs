// Rewrites the "## Kinds" section of docs/problems.md from core's catalogue (PROBLEMS), so the
// page the problem types point to says what the code answers. A test fails while they differ.
// Usage: npm run build && npm run problems:doc -w @tollgate/server
import { readFileSync, writeFileSync } from "node:fs";
import { PROBLEM_KINDS } from "@tollgate/core";

const file = new URL("../../../docs/problems.md", import.meta.url);
const text = readFileSync(file, "utf8");
const head = text.slice(0, text.indexOf("## Kinds\n"));
const kinds = PROBLEM_KINDS.map((k) => {
  const members = k.members.length > 0 ? `\nMembers: ${k.members.map((m) => `\`${m}\``).join(", ")}.\n` : "";
  return `### ${k.name}\n\n\`${k.type}\` · ${k.status} · ${k.title}\n\n${k.description}\n${members}`;
});
writeFileSync(file, `${head}## Kinds\n\n${kinds.join("\n")}`);
console.log(`wrote ${file.pathname}: ${PROBLEM_KINDS.length} kinds`);
