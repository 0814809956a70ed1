// Rewrites the "## Operations by `operationId`" section of docs/api.md from the served
// /openapi.json: each operation's id, route, role and documented statuses. A test fails while
// an operation is missing. Usage: npm run build && npm run api:doc -w @tollgate/server
import { readFileSync, writeFileSync } from "node:fs";
import { createServer, loadConfig } from "../dist/index.js";

const { config } = loadConfig({
  env: {
    TOLLGATE_DATA_DIR: "memory://",
    TOLLGATE_ADMIN_TOKEN: "api-doc-admin-token-0123456789abcdef",
    TOLLGATE_SERVICE_TOKEN: "api-doc-service-token-0123456789abcdef",
    TOLLGATE_LOG_LEVEL: "error",
  },
});
const server = await createServer({ config });
const document = (await server.app.inject({ url: "/openapi.json" })).json();
await server.close();

const rows = Object.entries(document.paths).flatMap(([path, item]) =>
  Object.entries(item).map(([method, op]) => {
    const access = op.description.split("\n\n").at(-1);
    const role =
      op.security?.length === 0
        ? "public"
        : access
            .replace(/^Needs (an admin-API|a) token with role /, "")
            .replace(/\.$/, "")
            .replaceAll("`", "");
    return `| \`${op.operationId}\` | \`${method.toUpperCase()} ${path}\` | ${role} | ${Object.keys(op.responses).join(", ")} |`;
  }),
);
const section = `## Operations by \`operationId\`

What a generated client calls each operation, who may call it, and every status it documents
(problem statuses carry \`application/problem+json\`):

| operationId | route | role | statuses |
|---|---|---|---|
${rows.join("\n")}
`;
const file = new URL("../../../docs/api.md", import.meta.url);
const text = readFileSync(file, "utf8");
const start = text.indexOf("## Operations by `operationId`");
const end = start === -1 ? -1 : text.indexOf("\n## ", start + 5);
const next =
  start === -1
    ? `${text.trimEnd()}\n\n${section}`
    : text.slice(0, start) + section + (end === -1 ? "" : text.slice(end));
writeFileSync(file, next);
console.log(`wrote ${file.pathname}: ${rows.length} operations`);
