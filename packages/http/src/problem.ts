import { type Decision, denialProblem, type InputError } from "@tollgate/core";

/** An RFC 9457 problem document as the adapters send it (`application/problem+json`). */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  [member: string]: unknown;
}

export const PROBLEM_CONTENT_TYPE = "application/problem+json";
export const INVALID_REQUEST_TYPE = "https://tollgate.dev/problems/invalid-request";

/** 400 for input the limiter rejected: names the field so the caller can fix it. Nothing was counted. */
export function inputProblem(error: InputError): Problem {
  return {
    type: INVALID_REQUEST_TYPE,
    title: "Invalid request",
    status: 400,
    detail: error.message,
    field: error.field,
  };
}

/** A refusal decided before the limiter (role or key check): reuses core's 403 / 401 documents. */
export function refusal(reason: "forbidden" | "invalid_key"): { decision: Decision; problem: Problem } {
  const decision: Decision = { allowed: false, reason, limits: [] };
  return { decision, problem: { ...denialProblem(decision) } };
}
