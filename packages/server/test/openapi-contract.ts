import { PROBLEM_CONTENT_TYPE, problemKind } from "@tollgate/core";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import type { Json, Reply } from "./helpers.js";

/** What problem headers each kind must carry (mirrors the server's HEADERS_BY_PROBLEM; checked against the document too). */
const REQUIRED_PROBLEM_HEADERS: Record<string, string[]> = {
  "auth-throttled": ["retry-after"],
  "rate-limited": ["retry-after"],
  "quota-exceeded": ["retry-after"],
  "store-unavailable": ["retry-after"],
  "service-unavailable": ["retry-after"],
  unauthenticated: ["www-authenticate"],
  "method-not-allowed": ["allow"],
};

const METHODS = ["get", "put", "post", "delete", "patch"] as const;

/** One operation of the document: its id, method and path template. */
export interface Operation {
  id: string;
  method: (typeof METHODS)[number];
  path: string;
  spec: Json;
}

const pointer = (...segments: string[]) =>
  `#/${segments.map((s) => s.replace(/~/g, "~0").replace(/\//g, "~1")).join("/")}`;

/**
 * Checks real responses against the served OpenAPI document with a JSON-schema validator (Ajv,
 * draft 2020-12 as OpenAPI 3.1 uses), and records which statuses each operation was seen to
 * answer, so a test can fail for operations nobody exercised.
 */
export class ContractChecker {
  readonly operations: Operation[] = [];
  readonly seen = new Map<string, Set<number>>();
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true });

  constructor(readonly document: Json) {
    addFormats.default(this.ajv);
    this.ajv.addSchema(document, "openapi.json");
    for (const [path, item] of Object.entries(document.paths as Record<string, Json>)) {
      for (const method of METHODS) {
        const spec = item[method];
        if (spec) this.operations.push({ id: spec.operationId ?? `${method} ${path}`, method, path, spec });
      }
    }
  }

  operation(id: string): Operation {
    const found = this.operations.find((o) => o.id === id);
    if (!found) throw new Error(`no operation ${id} in the document`);
    return found;
  }

  /** The URL of an operation with its path parameters filled in. */
  url(id: string, params: Record<string, string> = {}, query = ""): string {
    const { path } = this.operation(id);
    return (
      path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(params[name] ?? `missing-${name}`)) + query
    );
  }

  /** Fails (returns the reasons) when `reply` is not what the document says `id` answers. */
  check(id: string, reply: Reply, rawBody?: string): string[] {
    const op = this.operation(id);
    const where = `${id} (${op.method.toUpperCase()} ${op.path}) answered ${reply.status}`;
    const responses = op.spec.responses ?? {};
    const code = String(reply.status);
    const key = code in responses ? code : `${code[0]}XX` in responses ? `${code[0]}XX` : "default";
    const response = responses[key];
    if (!response) return [`${where}: status not documented (documented: ${Object.keys(responses).join(", ")})`];
    this.seen.set(id, (this.seen.get(id) ?? new Set()).add(reply.status));
    const errors: string[] = [];
    const contentType = String(reply.headers["content-type"] ?? "")
      .split(";")[0]
      ?.trim();
    if (!response.content) {
      if (rawBody) errors.push(`${where}: documented without a body, sent ${rawBody.length} bytes`);
      return errors;
    }
    if (!contentType || !(contentType in response.content)) {
      return [`${where}: content-type ${contentType} not documented (${Object.keys(response.content).join(", ")})`];
    }
    const validate = this.ajv.getSchema(
      `openapi.json${pointer("paths", op.path, op.method, "responses", key, "content", contentType, "schema")}`,
    );
    if (!validate) return [`${where}: no schema for ${contentType}`];
    // Text formats (CSV, NDJSON, Prometheus) are validated as the text they are.
    const isJson = contentType === "application/json" || contentType.endsWith("+json");
    const body = isJson ? reply.body : (rawBody ?? String(reply.body));
    if (!validate(body)) {
      errors.push(`${where}: body does not match the document: ${this.ajv.errorsText(validate.errors)}`);
    }
    if (contentType === PROBLEM_CONTENT_TYPE) errors.push(...this.checkProblem(where, reply));
    return errors;
  }

  private checkProblem(where: string, reply: Reply): string[] {
    const errors: string[] = [];
    const kind = problemKind(String(reply.body?.type));
    if (!kind) return [`${where}: problem type ${reply.body?.type} is not in the catalogue`];
    if (kind.status !== reply.status || reply.body.status !== reply.status) {
      errors.push(`${where}: ${kind.name} is status ${kind.status}, body says ${reply.body.status}`);
    }
    for (const header of REQUIRED_PROBLEM_HEADERS[kind.name] ?? []) {
      if (reply.headers[header] === undefined) errors.push(`${where}: ${kind.name} without the ${header} header`);
    }
    if (reply.headers["retry-after"] !== undefined && reply.body.retryAfter !== undefined) {
      if (String(reply.body.retryAfter) !== String(reply.headers["retry-after"]))
        errors.push(`${where}: retryAfter member and Retry-After header differ`);
    }
    return errors;
  }

  /** Operations without an exercised success response (when they document one) or problem response. */
  unexercised(): string[] {
    const gaps: string[] = [];
    for (const op of this.operations) {
      const seen = [...(this.seen.get(op.id) ?? [])];
      const documentsSuccess = Object.keys(op.spec.responses ?? {}).some((c) => c.startsWith("2"));
      if (documentsSuccess && !seen.some((s) => s < 300)) gaps.push(`${op.id}: no success response exercised`);
      const takesInput = (op.spec.parameters?.length ?? 0) > 0 || op.spec.requestBody !== undefined;
      const isPublic = Array.isArray(op.spec.security) && op.spec.security.length === 0;
      if ((takesInput || !isPublic) && !seen.some((s) => s >= 400))
        gaps.push(`${op.id}: no problem response exercised`);
    }
    return gaps;
  }
}
