import { PROBLEM_KINDS, PROBLEM_MEMBERS, type ProblemKind, problemKind } from "@tollgate/core";
import { z } from "zod";
import { PROBLEMS, problem, sendProblem } from "../problem.js";
import type { App } from "./types.js";

const escapeHtml = (text: string) =>
  text.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c] as string);

/** Inline `code` spans of the catalogue's prose as <code>. */
const prose = (text: string) => escapeHtml(text).replace(/`([^`]+)`/g, "<code>$1</code>");

function page(title: string, body: string) {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)} · Tollgate problem types</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:3rem auto;padding:0 1rem;color:#222}code{background:#f3f3f3;padding:0 .2em}td,th{padding:.2rem .6rem;text-align:left;vertical-align:top}</style></head>
<body>${body}</body></html>`;
}

function kindSection(kind: ProblemKind) {
  const members = kind.members.map((m) => `<li><code>${m}</code>: ${prose(PROBLEM_MEMBERS[m])}</li>`).join("");
  return `<h1>${escapeHtml(kind.title)}</h1>
<p>Type <code>${escapeHtml(kind.type)}</code>, status <b>${kind.status}</b>.</p>
<p>${prose(kind.description)}</p>
${members ? `<p>Extension members:</p><ul>${members}</ul>` : ""}
<p><a href="/problems">All problem types</a> · <a href="/docs">API documentation</a></p>`;
}

function index() {
  const rows = PROBLEM_KINDS.map(
    (k) =>
      `<tr><td><a href="/problems/${k.name}">${k.name}</a></td><td>${k.status}</td><td>${escapeHtml(k.title)}</td></tr>`,
  ).join("");
  return `<h1>Problem types</h1>
<p>Every error this server answers is <code>application/problem+json</code> (RFC 9457) with one of these types. Branch on <code>type</code>; <code>detail</code> is for people.</p>
<table><tr><th>type</th><th>status</th><th>title</th></tr>${rows}</table>`;
}

/** GET /problems and /problems/<name>: the page each problem `type` URI names, served from core's catalogue. */
export function problemRoutes(app: App) {
  app.get("/problems", { schema: { hide: true } }, async (_request, reply) =>
    reply.type("text/html; charset=utf-8").send(page("Problem types", index())),
  );
  app.get(
    "/problems/:name",
    { schema: { hide: true, params: z.object({ name: z.string().max(64) }) } },
    async (request, reply) => {
      const kind = problemKind(request.params.name);
      if (!kind)
        return sendProblem(
          reply,
          problem(PROBLEMS.notFound, `No problem type "${request.params.name}". See /problems.`, { field: "name" }),
        );
      return reply.type("text/html; charset=utf-8").send(page(kind.title, kindSection(kind)));
    },
  );
}
