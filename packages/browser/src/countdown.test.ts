import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { countdown, type Timer } from "./index.js";

/** A manual timer: time moves only when the test advances it, firing due callbacks in order. */
function manualTimer(start = 1_000_000) {
  let now = start;
  let nextId = 1;
  const pending = new Map<number, { at: number; callback: () => void }>();
  const timer: Timer = {
    now: () => now,
    setTimeout(callback, ms) {
      const id = nextId++;
      pending.set(id, { at: now + ms, callback });
      return id;
    },
    clearTimeout(handle) {
      pending.delete(handle as number);
    },
  };
  function advance(ms: number) {
    const end = now + ms;
    for (;;) {
      const due = [...pending.entries()].filter(([, p]) => p.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      pending.delete(due[0]);
      now = due[1].at;
      due[1].callback();
    }
    now = end;
  }
  return { timer, advance, pending };
}

describe("countdown", () => {
  it("happy: ticks every second from the wait down to 0, then done resolves", async () => {
    const { timer, advance } = manualTimer();
    const ticks: number[] = [];
    let ended = false;
    const { done } = countdown(3, (left) => ticks.push(left), { timer });
    done.then(() => {
      ended = true;
    });
    expect(ticks).toEqual([3]);
    advance(999);
    expect(ticks).toEqual([3]);
    advance(1);
    expect(ticks).toEqual([3, 2]);
    advance(2000);
    await done;
    expect(ticks).toEqual([3, 2, 1, 0]);
    expect(ended).toBe(true);
  });

  it("edge: a timer that always fires late (busy or throttled tab) does not make the countdown end late", async () => {
    const { timer, advance } = manualTimer();
    const LATE = 300;
    const late: Timer = { ...timer, setTimeout: (callback, ms) => timer.setTimeout(callback, ms + LATE) };
    const start = timer.now();
    const ticks: number[] = [];
    let endedAt = 0;
    const { done } = countdown(
      5,
      (left) => {
        ticks.push(left);
        if (left === 0) endedAt = timer.now();
      },
      { timer: late },
    );
    advance(10_000);
    await done;
    expect(ticks).toEqual([5, 4, 3, 2, 1, 0]);
    // Each wake is scheduled against the deadline, so lateness never accumulates: one late wake at most.
    expect(endedAt - start).toBeLessThanOrEqual(5000 + LATE);
  });

  it("edge: zero seconds ends at once with a single 0 tick; cancel and abort stop ticking", async () => {
    const { timer, advance, pending } = manualTimer();
    const ticks: number[] = [];
    await countdown(0, (left) => ticks.push(left), { timer }).done;
    expect(ticks).toEqual([0]);
    const c = countdown(5, (left) => ticks.push(left), { timer });
    c.cancel();
    await c.done;
    advance(10_000);
    expect(ticks).toEqual([0, 5]);
    expect(pending.size).toBe(0);
    const controller = new AbortController();
    const d = countdown(5, (left) => ticks.push(left), { timer, signal: controller.signal });
    controller.abort();
    await d.done;
    expect(pending.size).toBe(0);
  });

  it("property: for any wait, ticks are n, n-1, ..., 0 and end exactly at the deadline", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 600 }), async (seconds) => {
        const { timer, advance } = manualTimer();
        const start = timer.now();
        const ticks: number[] = [];
        let endedAt = -1;
        const { done } = countdown(
          seconds,
          (left) => {
            ticks.push(left);
            if (left === 0) endedAt = timer.now();
          },
          { timer },
        );
        advance(seconds * 1000);
        await done;
        expect(ticks).toEqual(Array.from({ length: seconds + 1 }, (_, i) => seconds - i));
        expect(endedAt - start).toBe(seconds * 1000);
      }),
      { numRuns: 50 },
    );
  });
});
