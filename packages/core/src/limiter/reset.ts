import type { CounterRef } from "../store.js";
import { type Subject, subjectId, validateSubject } from "../subject.js";
import type { ApplicableLimits } from "./applicable.js";
import { guarded, type LimiterContext } from "./context.js";
import { seedAfterReset } from "./restore.js";

/** Deletes every counter of a subject (all plans and categories), or only those of the limit named `only`. */
export async function resetSubject(
  context: LimiterContext,
  applicable: ApplicableLimits,
  subjectInput: Subject,
  only: string | undefined,
): Promise<void> {
  const subject = validateSubject(subjectInput);
  const seen = new Set<string>();
  const refs: CounterRef[] = [];
  for (const { limit, counter } of applicable.all()) {
    if (only !== undefined && limit.name !== only) continue;
    const id = subjectId(subject, limit.per);
    if (id === undefined || limit.per === "global" || seen.has(counter)) continue;
    seen.add(counter);
    refs.push({ counter, id, limit });
  }
  if (refs.length > 0) await guarded(context, "reset", context.store.reset, refs, refs);
  if (context.restoring) await seedAfterReset(context, refs);
}
