import type { Decision } from "@tollgate/core";

/** Decisions of one minute, by outcome. */
export interface MinuteCounts {
  /** Start of the minute (ms since the epoch). */
  start: number;
  allowed: number;
  denied: number;
  /** Allowed, but a monitor-mode limit was over its threshold. */
  monitored: number;
  /** Decided without the counter store (fail open or closed). */
  degraded: number;
}

const MINUTE = 60_000;

/**
 * Per-minute decision counts of this instance for the last hour, for the dashboard's live chart.
 * A fixed ring of 60 slots: constant memory, O(1) per decision.
 */
export class DecisionRate {
  private readonly slots: MinuteCounts[] = [];
  constructor(
    private readonly now: () => number,
    readonly minutes = 60,
  ) {}

  private slot(at: number): MinuteCounts {
    const start = Math.floor(at / MINUTE) * MINUTE;
    const index = Math.floor(start / MINUTE) % this.minutes;
    let slot = this.slots[index];
    if (!slot || slot.start !== start) {
      slot = { start, allowed: 0, denied: 0, monitored: 0, degraded: 0 };
      this.slots[index] = slot;
    }
    return slot;
  }

  record(decision: Decision) {
    const slot = this.slot(this.now());
    if (!decision.allowed) slot.denied++;
    else if (decision.limits.some((s) => s.mode === "monitor" && s.exceeded)) slot.monitored++;
    else slot.allowed++;
    if (decision.degraded) slot.degraded++;
  }

  /** The last `minutes` minutes, oldest first, the current (partial) minute last; empty minutes as zeros. */
  series(): MinuteCounts[] {
    const current = Math.floor(this.now() / MINUTE) * MINUTE;
    const out: MinuteCounts[] = [];
    for (let i = this.minutes - 1; i >= 0; i--) {
      const start = current - i * MINUTE;
      const slot = this.slots[Math.floor(start / MINUTE) % this.minutes];
      out.push(
        slot && slot.start === start ? { ...slot } : { start, allowed: 0, denied: 0, monitored: 0, degraded: 0 },
      );
    }
    return out;
  }
}
