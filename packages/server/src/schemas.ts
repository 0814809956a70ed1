import { MAX_AMOUNT, MAX_ID_LENGTH, NAME_PATTERN, NAME_RULE } from "@tollgate/core";
import { z } from "zod";

const id = z.string().min(1).max(MAX_ID_LENGTH);
const name = z.string().regex(NAME_PATTERN, NAME_RULE).describe("plan or category name");

export const subjectSchema = z
  .strictObject({
    user: id.optional(),
    key: id.optional().describe("An opaque key id the caller already verified."),
    org: id.optional(),
    project: id.optional(),
    ip: id.optional(),
    apiKey: z.string().min(1).max(512).optional().describe("A raw API key issued by Tollgate; verified here."),
  })
  .describe("Who is charged; each limit picks the field its `per` names.");

export const checkBodySchema = z
  .strictObject({
    subject: subjectSchema,
    category: name.optional(),
    plan: name.optional().describe("Ignored when subject.apiKey is given: the key's plan applies."),
    cost: z.number().int().min(0).max(MAX_AMOUNT).optional().describe("Units for token limits (default 1); 0 peeks."),
    byok: z
      .boolean()
      .optional()
      .describe("The caller brings its own provider key: token and byokExempt limits are skipped."),
    dryRun: z.boolean().optional(),
    scopes: z
      .array(z.string().min(1).max(64))
      .max(32)
      .optional()
      .describe("Scopes of a caller the calling app verified itself (checked against the category's requiredScope)."),
  })
  .meta({ id: "CheckRequest" });

export const limitStatusSchema = z.object({
  name: z.string(),
  subject: z.string(),
  mode: z.enum(["enforce", "monitor"]),
  limit: z.number(),
  used: z.number(),
  remaining: z.number(),
  reset: z.number().describe("Seconds until the counter frees up."),
  window: z.number().describe("Window length in seconds (the calendar period for quotas)."),
  exceeded: z.boolean(),
  crossed: z
    .literal(true)
    .optional()
    .describe("Present when this request first crossed the limit in its window (alert once)."),
  retryAfter: z.number().optional(),
  alert: z.string().optional(),
});

const missingSubjectSchema = z.object({
  limit: z.string(),
  field: z.enum(["user", "key", "org", "project", "ip"]),
});

export const decisionSchema = z
  .object({
    allowed: z.boolean(),
    reason: z
      .enum([
        "limit_exceeded",
        "quota_exceeded",
        "cost_exceeds_limit",
        "subject_missing",
        "invalid_key",
        "forbidden",
        "store_unavailable",
      ])
      .optional(),
    retryAfter: z.number().int().optional(),
    degraded: z.boolean().optional(),
    decisionId: z.string(),
    plan: z.string().optional(),
    category: z.string().optional(),
    keyId: z.string().optional(),
    limits: z.array(limitStatusSchema),
    missing: z
      .array(missingSubjectSchema)
      .optional()
      .describe("reason subject_missing: the enforced limits whose subject field the request lacks."),
    skipped: z
      .array(missingSubjectSchema)
      .optional()
      .describe("Limits passed over for lack of their subject field (whenMissing: skip)."),
    headers: z.record(z.string(), z.string()).describe("RateLimit-Policy, RateLimit, Retry-After, ready to copy."),
  })
  .meta({ id: "Decision" });

export const batchBodySchema = z.strictObject({ requests: z.array(checkBodySchema).min(1).max(100) });

export const settleBodySchema = z.strictObject({
  decisionId: z.string().min(1).max(4096),
  cost: z.number().int().min(0).max(MAX_AMOUNT).describe("The actual cost, replacing the estimate."),
});

export const usageQuerySchema = z.strictObject({
  user: id.optional().describe("Subject field: the user (one subject field, or X-Api-Key, is required)."),
  key: id.optional().describe("Subject field: an opaque key id the caller already verified."),
  org: id.optional().describe("Subject field: the organisation."),
  project: id.optional().describe("Subject field: the project."),
  ip: id.optional().describe("Subject field: the client address."),
  category: name.optional().describe("The category whose limits to read."),
  plan: name.optional().describe("The plan whose limits to read (ignored with X-Api-Key: the key's plan applies)."),
});

export const problemSchema = z
  .looseObject({
    type: z.string(),
    title: z.string(),
    status: z.number(),
    detail: z.string(),
    field: z.string().optional(),
    issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .meta({ id: "Problem" });

/** Standard error responses for the OpenAPI document. */
export const errors = (...codes: number[]) => Object.fromEntries(codes.map((code) => [code, problemSchema]));

export const limitSpecSchema = z
  .looseObject({
    name: z.string(),
    per: z.enum(["user", "key", "org", "project", "ip", "global"]),
    algorithm: z.enum(["fixed-window", "sliding-window", "sliding-log", "token-bucket", "quota", "concurrency"]),
    whenMissing: z.enum(["deny", "skip"]).optional(),
    limit: z.number(),
  })
  .describe(
    "A limit (name, per, algorithm, limit, window or period, ...); fully validated by the same rules as the library.",
  )
  .meta({ id: "Limit" });

export const nameParams = z.strictObject({ name });
export const idParams = z.strictObject({ id: z.string().min(1).max(64) });
