import { afterEach, describe, expect, it, vi } from "vitest";
import { manualClock } from "./clock.js";
import { type Limit, parseLimit } from "./limit.js";
import { memoryStore } from "./memory-store.js";
import type { CounterRef, DecideItem, DecideResult, Store } from "./store.js";

const START = Date.UTC(2026, 0, 1);

function ref(limit: Limit, id: string): CounterRef {
  return { counter: `test|${limit.name}`, id, limit };
}
const charge = (counter: CounterRef, cost = 1): DecideItem => ({ ...counter, cost });
/** Units in use on a counter, by a peek (the memory store answers synchronously). */
const usedOn = (store: Store, counter: CounterRef) =>
  (store.decide({ items: [charge(counter, 0)], charge: false }) as DecideResult).outcomes[0]?.used;

const second = parseLimit({ name: "second", per: "user", algorithm: "fixed-window", limit: 100, window: "1s" });
const hour = parseLimit({ name: "hour", per: "user", algorithm: "fixed-window", limit: 100, window: "1h" });

afterEach(() => {
  vi.useRealTimers();
});

describe("memory store: expired counters are reclaimed without a timer per key", () => {
  it("creates no timers at all", () => {
    vi.useFakeTimers();
    const clock = manualClock(START);
    const store = memoryStore({ clock });
    for (let i = 0; i < 500; i++) store.decide({ items: [charge(ref(second, `u${i}`))], charge: true });
    clock.advance(5_000);
    for (let i = 0; i < 500; i++) store.decide({ items: [charge(ref(hour, `u${i}`))], charge: true });
    store.sweep();
    expect(vi.getTimerCount()).toBe(0);
  });

  it("later operations reclaim expired counters incrementally (creation outpaces nothing)", () => {
    const clock = manualClock(START);
    const store = memoryStore({ clock });
    for (let i = 0; i < 100; i++) store.decide({ items: [charge(ref(second, `old${i}`))], charge: true });
    expect(store.size).toBe(100);
    clock.advance(2_000); // every "second" counter is now expired
    for (let i = 0; i < 100; i++) store.decide({ items: [charge(ref(hour, `new${i}`))], charge: true });
    // Without reclamation the store would hold 200; each creation examined a couple of entries.
    expect(store.size).toBeLessThan(200);
    expect(store.size).toBeLessThanOrEqual(110);
  });

  it("decisions on existing counters reclaim too, a little at a time", () => {
    const clock = manualClock(START);
    const store = memoryStore({ clock });
    const live = ref(hour, "live");
    store.decide({ items: [charge(live)], charge: true });
    for (let i = 0; i < 20; i++) store.decide({ items: [charge(ref(second, `old${i}`))], charge: true });
    clock.advance(2_000);
    const before = store.size;
    for (let i = 0; i < 16 * 60; i++) store.decide({ items: [charge(live, 0)], charge: false });
    expect(store.size).toBeLessThan(before);
    expect(store.size).toBe(1);
  });

  it("sweep() reclaims every expired counter at once and reports how many", () => {
    const clock = manualClock(START);
    const store = memoryStore({ clock, sweepPerOperation: 0 });
    for (let i = 0; i < 50; i++) store.decide({ items: [charge(ref(second, `s${i}`))], charge: true });
    for (let i = 0; i < 30; i++) store.decide({ items: [charge(ref(hour, `h${i}`))], charge: true });
    expect(store.size).toBe(80);
    clock.advance(1_000);
    expect(store.sweep()).toBe(50);
    expect(store.size).toBe(30);
    // The live ones kept their counts.
    expect(usedOn(store, ref(hour, "h0"))).toBe(1);
    clock.advance(3_600_000);
    expect(store.sweep()).toBe(30);
    expect(store.size).toBe(0);
  });

  it("a released last lease deletes its counter", () => {
    const clock = manualClock(START);
    const store = memoryStore({ clock });
    const inflight = parseLimit({ name: "inflight", per: "user", algorithm: "concurrency", limit: 2 });
    store.decide({ items: [{ ...ref(inflight, "u"), cost: 1, leaseId: "l1" }], charge: true });
    expect(store.size).toBe(1);
    store.release([{ ...ref(inflight, "u"), leaseId: "l1" }]);
    expect(store.size).toBe(0);
  });
});

describe("memory store: maxKeys", () => {
  it("caps the number of live counters", () => {
    const clock = manualClock(START);
    const store = memoryStore({ clock, maxKeys: 10 });
    for (let i = 0; i < 100; i++) {
      store.decide({ items: [charge(ref(hour, `u${i}`))], charge: true });
      expect(store.size).toBeLessThanOrEqual(10);
    }
    expect(store.size).toBe(10);
    // The most recent subjects are still counted; the oldest were dropped (documented effect: they start afresh).
    expect(usedOn(store, ref(hour, "u99"))).toBe(1);
    expect(usedOn(store, ref(hour, "u0"))).toBe(0);
  });

  it("a capped store evicts expired counters before live ones, even when the live one is older", () => {
    const clock = manualClock(START);
    const store = memoryStore({ clock, maxKeys: 2, sweepPerOperation: 0 });
    store.decide({ items: [charge(ref(hour, "old-but-live"), 5)], charge: true });
    store.decide({ items: [charge(ref(second, "young-but-expired"))], charge: true });
    clock.advance(2_000);
    store.decide({ items: [charge(ref(hour, "newcomer"))], charge: true });
    expect(store.size).toBe(2);
    expect(usedOn(store, ref(hour, "old-but-live"))).toBe(5);
    expect(usedOn(store, ref(hour, "newcomer"))).toBe(1);
  });

  it("regression: memory-store: size stays exact when eviction drops a counter the same decision charges", () => {
    // One decision charges a new counter (hour2/a) and an existing one (hour/a). Creating hour2/a at the
    // cap evicts the oldest counter of the largest table: hour/a itself. decide() then writes hour/a
    // back through its "existing counter" fast path without counting it, so `size` undercounts:
    // the cap is exceeded and, once everything expires, sweeping drives `size` below zero.
    const clock = manualClock(START);
    const store = memoryStore({ clock, maxKeys: 2, sweepPerOperation: 0 });
    const hour2 = parseLimit({ name: "hour2", per: "user", algorithm: "fixed-window", limit: 100, window: "1h" });
    store.decide({ items: [charge(ref(hour, "a"))], charge: true });
    store.decide({ items: [charge(ref(hour, "b"))], charge: true });
    store.decide({ items: [charge(ref(hour2, "a")), charge(ref(hour, "a"))], charge: true });
    clock.advance(3_600_000);
    const reclaimed = store.sweep();
    expect(store.size).toBe(0);
    expect(reclaimed).toBeLessThanOrEqual(2); // never more counters than the cap allows
  });

  it("reset and close keep size exact", async () => {
    const clock = manualClock(START);
    const store = memoryStore({ clock });
    store.decide({ items: [charge(ref(hour, "a")), charge(ref(second, "a"))], charge: true });
    store.reset([ref(hour, "a"), ref(hour, "never-charged")]);
    expect(store.size).toBe(1);
    await store.close?.();
    expect(store.size).toBe(0);
  });
});
