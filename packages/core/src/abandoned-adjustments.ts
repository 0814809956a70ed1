import type { AdjustItem } from "./store.js";

type State = "in-flight" | "landed" | "taken" | "undone" | "failed";

interface Abandoned {
  state: State;
  /** Identical adjustments (retries) waiting to see whether this one lands. */
  waiters: number;
  /** Resolves once the call has landed or failed. */
  done: Promise<void>;
}

/** A retry waiting on an abandoned twin: `taken` says the twin landed and now counts for it. */
export interface Join {
  taken: Promise<boolean>;
  /** The retry gave up waiting (its own deadline): it no longer takes the twin. */
  leave(): void;
}

/** What an adjustment changes: counters, subjects, deltas and the charge they belong to. */
function signatureOf(items: readonly AdjustItem[]): string {
  let text = "";
  for (const item of items) text += `${item.counter}\u0000${item.id}\u0000${item.delta}\u0000${item.chargedAt}\u0001`;
  return text;
}

/**
 * Adjust calls (settle, refund) a deadline gave up on, until they land or fail. The caller was
 * told "not applied" and may retry, so the counters must end with the adjustment exactly once if
 * it retries and not at all if it does not:
 * - a retry that arrives while its abandoned twin is still in flight waits for it: if the twin
 *   lands, it counts for the retry (nothing is sent again); if it fails, the retry is sent;
 * - a twin that lands with no retry waiting is undone (`undo`), as the caller was told.
 * Identical adjustments are interchangeable, so a different call that happens to match (same
 * counters, deltas and charge time) may take the twin's place: the total stays right.
 */
export class AbandonedAdjustments {
  private readonly inFlight = new Map<string, Abandoned[]>();

  constructor(private readonly undo: (items: readonly AdjustItem[]) => void) {}

  /** The deadline gave up on `call`, which adjusts `items`. */
  abandoned(items: readonly AdjustItem[], call: Promise<unknown>): void {
    const key = signatureOf(items);
    let finish: () => void = () => {};
    const entry: Abandoned = { state: "in-flight", waiters: 0, done: new Promise<void>((r) => (finish = r)) };
    const list = this.inFlight.get(key);
    if (list) list.push(entry);
    else this.inFlight.set(key, [entry]);
    const forget = () => {
      const entries = this.inFlight.get(key);
      if (entries === undefined) return;
      const at = entries.indexOf(entry);
      if (at >= 0) entries.splice(at, 1);
      if (entries.length === 0) this.inFlight.delete(key);
    };
    call.then(
      () => {
        forget();
        if (entry.waiters > 0) entry.state = "landed";
        else {
          entry.state = "undone";
          this.undo(items);
        }
        finish();
      },
      () => {
        forget();
        entry.state = "failed";
        finish();
      },
    );
  }

  /** A twin of `items` still in flight, to wait for instead of sending again; undefined when none. */
  join(items: readonly AdjustItem[]): Join | undefined {
    const entry = this.inFlight.get(signatureOf(items))?.find((e) => e.state === "in-flight");
    if (entry === undefined) return undefined;
    entry.waiters++;
    let left = false;
    const leave = () => {
      if (left) return;
      left = true;
      entry.waiters--;
      // Landed for waiters that all gave up: nobody was told it applied, so it is undone.
      if (entry.state === "landed" && entry.waiters === 0) {
        entry.state = "undone";
        this.undo(items);
      }
    };
    const taken = entry.done.then(() => {
      if (left) return false;
      if (entry.state === "landed") {
        entry.state = "taken";
        left = true;
        entry.waiters--;
        return true;
      }
      leave();
      return false;
    });
    return { taken, leave };
  }

  /** Abandoned adjustments not landed or failed yet (tests). */
  get size(): number {
    let n = 0;
    for (const list of this.inFlight.values()) n += list.length;
    return n;
  }
}
