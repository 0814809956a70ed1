import { InputError } from "./errors.js";
import type { SubjectKind } from "./limit.js";

/**
 * Who a request is charged to. Several at once are normal (`user` and `org` and `ip`); each limit
 * picks the one its `per` names. Values are opaque identifiers: any characters, at most
 * {@link MAX_ID_LENGTH} long (stores encode them so `{`, `}`, `:` or unicode cannot collide).
 */
export interface Subject {
  user?: string;
  key?: string;
  org?: string;
  project?: string;
  ip?: string;
}

export const SUBJECT_FIELDS = ["user", "key", "org", "project", "ip"] as const;
/** Longest identifier accepted: long enough for any real id, short enough to keep keys bounded. */
export const MAX_ID_LENGTH = 256;
/** The id used by `per: global` limits. */
export const GLOBAL_ID = "*";

/** Validates a subject; throws InputError naming the field (`subject.user`). Runs on every decision: kept lean. */
export function validateSubject(subject: unknown): Subject {
  if (typeof subject !== "object" || subject === null || Array.isArray(subject)) {
    throw new InputError("subject", 'must be an object such as { user: "u-42" }');
  }
  const fields = subject as Record<string, unknown>;
  let named = 0;
  for (const field in fields) {
    const value = fields[field];
    if (value === undefined) continue;
    named++;
    switch (field) {
      case "user":
      case "key":
      case "org":
      case "project":
      case "ip":
        break;
      default:
        throw new InputError(`subject.${field}`, `is not a subject field (use ${SUBJECT_FIELDS.join(", ")})`);
    }
    if (typeof value !== "string" || value.length === 0) {
      throw new InputError(`subject.${field}`, "must be a non-empty string");
    }
    if (value.length > MAX_ID_LENGTH) {
      throw new InputError(`subject.${field}`, `must be at most ${MAX_ID_LENGTH} characters (got ${value.length})`);
    }
  }
  // An empty subject would match no limit and pass silently: a resolver bug must not fail open.
  if (named === 0) {
    throw new InputError("subject", `must name at least one of ${SUBJECT_FIELDS.join(", ")} (all were empty)`);
  }
  return subject as Subject;
}

/** The id a limit with `per: kind` charges for this subject, or undefined if the subject has none. */
export function subjectId(subject: Subject, kind: SubjectKind): string | undefined {
  return kind === "global" ? GLOBAL_ID : subject[kind];
}
