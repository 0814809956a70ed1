import { type Decision, denialProblem, type InputError, PROBLEMS, type Problem, problemOf } from "@tollgate/core";

// The adapters answer with core's catalogue, so a client sees the same types from an embedded
// gate and from the server.
export { PROBLEM_CONTENT_TYPE, type Problem } from "@tollgate/core";

/** 400 for input the limiter rejected: names the field so the caller can fix it. Nothing was counted. */
export function inputProblem(error: InputError): Problem {
  return problemOf(PROBLEMS.validationFailed, error.message, {
    field: error.field,
    issues: [{ path: error.field, message: error.message }],
  });
}

/** A refusal decided before the limiter (role or key check): reuses core's 403 / 401 documents. */
export function refusal(reason: "forbidden" | "invalid_key"): { decision: Decision; problem: Problem } {
  const decision: Decision = { allowed: false, reason, limits: [] };
  return { decision, problem: { ...denialProblem(decision) } };
}
