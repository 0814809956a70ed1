import {
  PROBLEM_CONTENT_TYPE,
  PROBLEM_KINDS,
  PROBLEM_MEMBERS,
  PROBLEM_TYPE_BASE,
  PROBLEMS,
  type ProblemKind,
} from "@tollgate/core";
import { HEADERS_BY_PROBLEM, RESPONSE_HEADERS, type ResponseHeader } from "./headers.js";
import { type OperationDoc, operationDocs } from "./operation.js";
import { problemExample } from "./problem-examples.js";

// biome-ignore lint/suspicious/noExplicitAny: the OpenAPI document is plain JSON walked by key
type Json = any;

const METHODS = ["get", "put", "post", "delete", "patch", "head", "options"] as const;

/** The document's fixed parts: info, servers, security, tags. */
export const DOCUMENT_INFO = {
  title: "Tollgate",
  version: "0.1.0",
  description: [
    "Rate limits and usage quotas for expensive API endpoints (LLM calls above all).",
    "",
    "- **Decision API** (`/v1/check`, `/v1/settle`, `/v1/usage`): called by your services with a `service` (or `admin`) token.",
    "- **Admin API** (`/v1/admin/...`): plans, categories, API keys, tokens, counters, usage and audit, with admin-API tokens whose role ranks admin > operator > readonly.",
    "- **Operations** (`/healthz`, `/readyz`, `/metrics`): public.",
    "",
    "Every error is `application/problem+json` (RFC 9457) with a `type` from the catalogue at `/problems` (one type per kind of problem, camelCase extension members).",
  ].join("\n"),
  license: { name: "MIT", identifier: "MIT" },
  contact: { name: "Tollgate maintainers", url: "https://tollgate.dev" },
};

export const TAGS = [
  { name: "decision", description: "Decide, settle and peek at usage (service token)." },
  {
    name: "admin",
    description: "Catalog, API keys, tokens, counters, usage, audit (admin-API tokens: admin > operator > readonly).",
  },
  { name: "dashboard", description: "Dashboard sign-in: a session cookie in place of a bearer token." },
  { name: "operations", description: "Liveness, readiness and Prometheus metrics (public)." },
];

export const SECURITY_SCHEMES = {
  bearer: {
    type: "http" as const,
    scheme: "bearer",
    description:
      "A Tollgate token: `service` for the decision API; `admin`, `operator` or `readonly` for the admin API. Printed at first start or set by TOLLGATE_SERVICE_TOKEN / TOLLGATE_ADMIN_TOKEN; admins issue more with POST /v1/admin/tokens.",
  },
  session: {
    type: "apiKey" as const,
    in: "cookie" as const,
    name: "tollgate_session",
    description:
      "The dashboard's session cookie (POST /v1/session), accepted by admin-API operations in place of a bearer token. Changes made with it must send `x-tollgate-csrf: 1`.",
  },
};

const MEMBER_SCHEMAS: Record<keyof typeof PROBLEM_MEMBERS, Json> = {
  reason: {
    type: "string",
    enum: [
      "limit_exceeded",
      "quota_exceeded",
      "cost_exceeds_limit",
      "subject_missing",
      "invalid_key",
      "forbidden",
      "store_unavailable",
    ],
  },
  retryAfter: { type: "integer", minimum: 1 },
  violatedPolicies: { type: "array", items: { type: "string" } },
  field: { type: "string" },
  issues: {
    type: "array",
    items: {
      type: "object",
      properties: { path: { type: "string" }, message: { type: "string" } },
      required: ["path", "message"],
    },
  },
  missing: {
    type: "array",
    items: {
      type: "object",
      properties: { limit: { type: "string" }, field: { type: "string" } },
      required: ["limit", "field"],
    },
  },
  allow: { type: "array", items: { type: "string" } },
  role: { type: "string" },
  needed: { type: "string" },
};

/** The shared Problem schema, from core's catalogue: every member any kind carries, documented once. */
export function problemSchema(): Json {
  const members = Object.fromEntries(
    Object.entries(PROBLEM_MEMBERS).map(([name, description]) => [
      name,
      { ...MEMBER_SCHEMAS[name as keyof typeof PROBLEM_MEMBERS], description },
    ]),
  );
  return {
    type: "object",
    description: `An RFC 9457 problem document. \`type\` is one of the catalogue (${PROBLEM_TYPE_BASE}<name>, each documented at /problems/<name> on this server); clients branch on it, never on \`detail\`.`,
    properties: {
      type: { type: "string", format: "uri", description: "The kind of problem; see /problems." },
      title: { type: "string", description: "The kind's short summary (the same for every occurrence)." },
      status: { type: "integer", minimum: 400, maximum: 599, description: "The HTTP status." },
      detail: { type: "string", description: "What went wrong this time, for a person." },
      instance: { type: "string", description: "This occurrence, when known." },
      ...members,
    },
    required: ["type", "title", "status", "detail"],
    example: problemExample(PROBLEM_KINDS[0] as ProblemKind),
  };
}

const problemLink = (kind: ProblemKind) => `[${kind.name}](/problems/${kind.name})`;

/** One response per status for the operation's problems: a description naming each type, its headers, one example per type. */
function problemResponses(kinds: ProblemKind[]): Record<string, Json> {
  const byStatus = new Map<number, ProblemKind[]>();
  for (const kind of kinds) byStatus.set(kind.status, [...(byStatus.get(kind.status) ?? []), kind]);
  const responses: Record<string, Json> = {};
  for (const [status, group] of [...byStatus].sort(([a], [b]) => a - b)) {
    const headers = [...new Set(group.flatMap((k) => HEADERS_BY_PROBLEM[k.name] ?? []))];
    responses[String(status)] = {
      description: group.map((k) => `${k.title}: ${problemLink(k)}.`).join(" "),
      ...(headers.length ? { headers: headerRefs(headers) } : {}),
      content: {
        [PROBLEM_CONTENT_TYPE]: {
          schema: { $ref: "#/components/schemas/Problem" },
          examples: Object.fromEntries(group.map((k) => [k.name, { summary: k.title, value: problemExample(k) }])),
        },
      },
    };
  }
  return responses;
}

const headerRefs = (names: readonly ResponseHeader[]) =>
  Object.fromEntries(names.map((name) => [name, { $ref: `#/components/headers/${name}` }]));

/** Applies an operation's registered documentation to what @fastify/swagger generated. */
function finishOperation(operation: Json, doc: OperationDoc, method: string) {
  const body = operation.requestBody?.content?.["application/json"];
  if (body && Object.keys(doc.bodyExamples).length > 0) body.examples = doc.bodyExamples;
  for (const parameter of operation.parameters ?? []) {
    if (parameter.name in doc.parameterExamples) parameter.example = doc.parameterExamples[parameter.name];
  }
  const responses: Record<string, Json> = {};
  for (const [status, spec] of Object.entries(doc.responses)) {
    const generated = operation.responses?.[status] ?? {};
    const contentType = spec.contentType ?? "application/json";
    const schema = generated.content?.["application/json"]?.schema ?? { type: "string" };
    const alternatives = Object.fromEntries(
      Object.entries(spec.alternatives ?? {}).map(([type, example]) => [
        type,
        { schema: { type: "string" }, examples: { [type.split("/")[1] ?? type]: example } },
      ]),
    );
    responses[status] = {
      description: spec.description,
      ...(spec.headers?.length ? { headers: headerRefs(spec.headers) } : {}),
      ...(spec.hasBody || spec.contentType
        ? {
            content: {
              [contentType]: { schema, ...(spec.examples ? { examples: spec.examples } : {}) },
              ...alternatives,
            },
          }
        : {}),
    };
  }
  // Admin changes made with a dashboard session cookie must prove they are not cross-site.
  const cookie = doc.access === "session" || (typeof doc.access === "object" && "minimum" in doc.access);
  const csrf = cookie && method !== "get" ? [PROBLEMS.csrfRejected] : [];
  operation.responses = { ...responses, ...problemResponses([...doc.problems, ...csrf]) };
}

/** Every `$ref` under `node`. */
function collectRefs(node: Json, into: Set<string>) {
  if (Array.isArray(node)) for (const item of node) collectRefs(item, into);
  else if (node && typeof node === "object") {
    for (const [key, value] of Object.entries(node)) {
      if (key === "$ref" && typeof value === "string") into.add(value);
      else collectRefs(value, into);
    }
  }
}

function renameRefs(node: Json, from: string, to: string) {
  if (Array.isArray(node)) for (const item of node) renameRefs(item, from, to);
  else if (node && typeof node === "object") {
    for (const [key, value] of Object.entries(node)) {
      if (key === "$ref" && value === from) node[key] = to;
      else renameRefs(value, from, to);
    }
  }
}

/**
 * The zod transform registers an input and an output twin of every named schema (`LimitInput`,
 * `Limit`). Twins that are identical become one; unreferenced schemas are dropped, so every
 * component the document lists is used.
 */
function tidyComponents(document: Json) {
  const schemas: Record<string, Json> = document.components.schemas;
  for (const name of Object.keys(schemas)) {
    if (!name.endsWith("Input")) continue;
    const twin = name.slice(0, -"Input".length);
    const refs = new Set<string>();
    collectRefs(document.paths, refs);
    const twinUsed = refs.has(`#/components/schemas/${twin}`);
    if (!twinUsed || JSON.stringify(schemas[twin]) === JSON.stringify(schemas[name])) {
      schemas[twin] = schemas[name];
      delete schemas[name];
      renameRefs(document, `#/components/schemas/${name}`, `#/components/schemas/${twin}`);
    }
  }
  // Schemas can reference schemas: keep what is reachable from the paths.
  const reachable = new Set<string>();
  const queue = [document.paths];
  while (queue.length > 0) {
    const refs = new Set<string>();
    collectRefs(queue.pop(), refs);
    for (const ref of refs) {
      const name = ref.replace("#/components/schemas/", "");
      if (ref.startsWith("#/components/schemas/") && !reachable.has(name)) {
        reachable.add(name);
        queue.push(schemas[name]);
      }
    }
  }
  for (const name of Object.keys(schemas)) if (!reachable.has(name)) delete schemas[name];
}

/**
 * Completes the document @fastify/swagger generated from the routes' zod schemas: operation
 * documentation, problem responses from core's catalogue, response headers, examples, info,
 * servers and security. Runs once, when /openapi.json is first generated.
 */
export function finishDocument(document: Json): Json {
  document.info = DOCUMENT_INFO;
  document.servers = [{ url: "/", description: "The server that serves this document." }];
  document.security = [{ bearer: [] }];
  document.tags = TAGS;
  document.components ??= {};
  document.components.securitySchemes = SECURITY_SCHEMES;
  document.components.schemas = { ...document.components.schemas, Problem: problemSchema() };
  for (const item of Object.values(document.paths ?? {}) as Json[]) {
    for (const method of METHODS) {
      const operation = item[method];
      const doc = operation?.operationId ? operationDocs.get(operation.operationId) : undefined;
      if (doc) finishOperation(operation, doc, method);
    }
  }
  tidyComponents(document);
  // Only the headers some response sends.
  const refs = new Set<string>();
  collectRefs(document.paths, refs);
  document.components.headers = Object.fromEntries(
    Object.entries(RESPONSE_HEADERS).filter(([name]) => refs.has(`#/components/headers/${name}`)),
  );
  return document;
}
